//! Scheduled maintenance inside `floe serve`, one schedule per job:
//! - compaction (`--compaction-interval`): each table whose `floe.compaction.enabled` is
//!   not `false` is compacted and its old snapshots expired;
//! - delete conversion (`--maintenance-interval`): each table with a partition of at
//!   least `floe.convert-deletes.min-files` live equality-delete files gets them
//!   converted into position deletes; every table's delete files are counted for
//!   `/metrics` on the way.
//!
//! Both run under the one per-table maintenance lock, separate from the commit locks.
//! With ZooKeeper the lock lives there, so of several nodes at most one maintains a table
//! at a time, and a node that dies loses its lock with its session. The jobs reach the
//! node's own catalog in process (`NodeCatalog`), so their commits take the same commit
//! path as any client's, without a round trip to an address the node may not listen on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use floe_compaction::{
    compact, convert_deletes, delete_file_counts, expire_snapshots, CompactionRequest,
    ConversionRequest, Silent,
};
use floe_locks::{LockError, LockManager};
use floe_rest_catalog::Catalog;
use floe_rest_catalog::PageRequest;
use floe_table::properties::{
    positive, COMPACTION_ENABLED, CONVERT_DELETES_MIN_FILES, DEFAULT_CONVERT_DELETES_MIN_FILES,
};
use floe_table::{LoadedTable, ManifestCache, TableCatalog};
use iceberg::spec::FormatVersion;
use iceberg::{NamespaceIdent, TableIdent};

use super::node_catalog::NodeCatalog;
use crate::maintenance_lock::lock_key;
use crate::metrics::{record_compaction, record_conversion, Metrics};

/// How long a node waits for a table's maintenance lock before leaving the table to the
/// node that holds it.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// What a schedule does to each table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Compaction, then snapshot expiry.
    Compaction,
    /// Equality deletes converted into position deletes.
    ConvertDeletes,
}

impl Job {
    fn name(self) -> &'static str {
        match self {
            Job::Compaction => "compaction",
            Job::ConvertDeletes => "delete conversion",
        }
    }
}

/// One scheduled job of one node.
pub struct MaintenanceSchedule {
    /// The node's catalog: which tables there are.
    pub catalog: Catalog,
    /// The same catalog as the table layer reaches it, with the node's storage settings.
    pub tables: NodeCatalog,
    /// Maintenance locks, by table uuid.
    pub locks: Arc<dyn LockManager>,
    /// How often a round starts.
    pub interval: Duration,
    /// What it does.
    pub job: Job,
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

impl MaintenanceSchedule {
    /// Runs forever: one round every interval.
    pub async fn run(self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = self.round().await {
                tracing::warn!(job = self.job.name(), error = %format!("{e:#}"), "scheduled maintenance round failed");
            }
        }
    }

    /// Runs the job on every table that is due and whose lock this node gets.
    pub async fn round(&self) -> anyhow::Result<()> {
        let mut counted = HashMap::new();
        for ident in all_tables(&self.catalog).await? {
            let table = match self.tables.load_table(&ident).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(table = %ident, error = %e, "not maintained: cannot load");
                    continue;
                }
            };
            if !self.due(&ident, &table, &mut counted).await {
                continue;
            }
            let key = lock_key(&table.metadata);
            let guard = match self.locks.acquire(&key, LOCK_WAIT).await {
                Ok(guard) => guard,
                Err(LockError::Timeout { .. }) => {
                    tracing::info!(table = %ident, job = self.job.name(), "skipped: another node maintains the table");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(table = %ident, job = self.job.name(), error = %e, "skipped: no lock");
                    continue;
                }
            };
            let tables: Arc<dyn TableCatalog> = Arc::new(self.tables.clone());
            match self.job {
                Job::Compaction => compact_and_expire(tables, &ident, || guard.is_held()).await,
                Job::ConvertDeletes => convert(tables, &ident).await,
            }
            drop(guard);
        }
        if self.job == Job::ConvertDeletes {
            Metrics::install().record_delete_files(counted);
        }
        Ok(())
    }

    /// Whether the job is due on `table`; counts its delete files on the way.
    async fn due(
        &self,
        ident: &TableIdent,
        table: &LoadedTable,
        counted: &mut HashMap<String, floe_compaction::DeleteFileCounts>,
    ) -> bool {
        let properties = table.metadata.properties();
        match self.job {
            Job::Compaction => {
                properties.get(COMPACTION_ENABLED).map(String::as_str) != Some("false")
            }
            Job::ConvertDeletes if table.metadata.format_version() > FormatVersion::V2 => false,
            Job::ConvertDeletes => {
                let min = positive(
                    properties,
                    CONVERT_DELETES_MIN_FILES,
                    DEFAULT_CONVERT_DELETES_MIN_FILES,
                );
                let files = ManifestCache::default()
                    .live(&table.file_io, &table.metadata)
                    .await
                    .map(|(_, files)| files);
                let (min, files) = match (min, files) {
                    (Ok(min), Ok(files)) => (min, files),
                    (Err(e), _) => {
                        tracing::warn!(table = %ident, error = %e, "delete conversion skipped");
                        return false;
                    }
                    (_, Err(e)) => {
                        tracing::warn!(table = %ident, error = %e, "delete conversion skipped: cannot read the manifests");
                        return false;
                    }
                };
                let counts = delete_file_counts(&files);
                let due = counts.due(min);
                counted.insert(ident.to_string(), counts);
                due
            }
        }
    }
}

/// Compacts a table, then expires its old snapshots if the lock is still held.
async fn compact_and_expire(
    tables: Arc<dyn TableCatalog>,
    ident: &TableIdent,
    still_held: impl Fn() -> bool,
) {
    tracing::info!(table = %ident, "compaction started");
    match compact(
        tables.clone(),
        ident,
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
    if still_held() {
        match expire_snapshots(tables.as_ref(), ident, None, None).await {
            Ok(report) => {
                tracing::info!(table = %ident, expired = report.expired_snapshots, deleted_files = report.deleted_files, "snapshots expired")
            }
            Err(e) => {
                tracing::warn!(table = %ident, error = %e, "snapshot expiry failed")
            }
        }
    }
}

/// Converts a table's equality deletes into position deletes.
async fn convert(tables: Arc<dyn TableCatalog>, ident: &TableIdent) {
    tracing::info!(table = %ident, "delete conversion started");
    match convert_deletes(tables, ident, &ConversionRequest::default()).await {
        Ok(report) => {
            record_conversion(Some(&report));
            tracing::info!(
                table = %ident,
                partitions = report.partitions.len(),
                committed = report.committed(),
                elapsed_ms = report.elapsed.as_millis() as u64,
                "delete conversion finished"
            )
        }
        Err(e) => {
            record_conversion(None);
            tracing::warn!(table = %ident, error = %e, "delete conversion failed")
        }
    }
}
