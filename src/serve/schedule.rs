//! Scheduled maintenance inside `floe serve`, one schedule per job:
//! - compaction (`--compaction-interval`): each table whose `floe.compaction.enabled` is
//!   not `false` is compacted and its old snapshots expired;
//! - delete conversion (`--maintenance-interval`): each table with a partition of at
//!   least `floe.convert-deletes.min-files` live equality-delete files gets them
//!   converted into position deletes; every table's delete files are counted for
//!   `/metrics` on the way.
//!
//! Delete conversion and snapshot expiry run under the one per-table maintenance lock,
//! separate from the commit locks. With ZooKeeper the lock lives there, so of several
//! nodes at most one converts or expires a table at a time, and a node that dies loses its
//! lock with its session; compaction takes no lock there: every node compacts the table
//! together with the others, each group rewritten by the node that claims it (`claims`).
//! Compaction and conversion of one table may then overlap: each commit checks the files
//! it replaces are still live, so the later one is skipped, never applied twice. Without
//! ZooKeeper the node is alone, and compaction takes the maintenance lock too. The jobs
//! reach the node's own catalog in process (`NodeCatalog`), so their commits take the same
//! commit path as any client's, without a round trip to an address the node may not
//! listen on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use floe_compaction::{
    compact, compact_together, convert_deletes, delete_file_counts, expire_snapshots,
    CompactionRequest, ConversionRequest, GroupClaims, Silent,
};
use floe_locks::{LockError, LockGuard, LockManager};
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
    /// With ZooKeeper, the group claims by which the nodes compact a table together.
    pub claims: Option<Arc<dyn GroupClaims>>,
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
            let tables: Arc<dyn TableCatalog> = Arc::new(self.tables.clone());
            let key = lock_key(&table.metadata);
            match (self.job, &self.claims) {
                // Together with the other nodes, no lock held; the expiry stays exclusive.
                (Job::Compaction, Some(claims)) => {
                    compact_table(tables.clone(), &ident, Some(claims.clone())).await;
                    if let Some(guard) = self.lock(&ident, &key).await {
                        expire(tables.as_ref(), &ident).await;
                        guard.release().await;
                    }
                }
                (Job::Compaction, None) => {
                    let Some(guard) = self.lock(&ident, &key).await else {
                        continue;
                    };
                    compact_table(tables.clone(), &ident, None).await;
                    if guard.is_held() {
                        expire(tables.as_ref(), &ident).await;
                    }
                    guard.release().await;
                }
                (Job::ConvertDeletes, _) => {
                    let Some(guard) = self.lock(&ident, &key).await else {
                        continue;
                    };
                    convert(tables, &ident).await;
                    guard.release().await;
                }
            }
        }
        if self.job == Job::ConvertDeletes {
            Metrics::install().record_delete_files(counted);
        }
        Ok(())
    }

    /// The maintenance lock `key` of the table `ident`, unless another node holds it (or
    /// it cannot be taken): that node maintains the table.
    async fn lock(&self, ident: &TableIdent, key: &str) -> Option<Box<dyn LockGuard>> {
        match self.locks.acquire(key, LOCK_WAIT).await {
            Ok(guard) => Some(guard),
            Err(LockError::Timeout { .. }) => {
                tracing::info!(table = %ident, job = self.job.name(), "skipped: another node maintains the table");
                None
            }
            Err(e) => {
                tracing::warn!(table = %ident, job = self.job.name(), error = %e, "skipped: no lock");
                None
            }
        }
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

/// Compacts a table: alone, or together with the other nodes that claim its groups from
/// `claims`.
async fn compact_table(
    tables: Arc<dyn TableCatalog>,
    ident: &TableIdent,
    claims: Option<Arc<dyn GroupClaims>>,
) {
    tracing::info!(table = %ident, together = claims.is_some(), "compaction started");
    let (request, progress) = (CompactionRequest::default(), Arc::new(Silent));
    let report = match claims {
        None => compact(tables, ident, &request, progress).await,
        Some(claims) => compact_together(tables, ident, &request, progress, claims).await,
    };
    match report {
        Ok(report) => {
            record_compaction(Some(&report));
            tracing::info!(
                table = %ident,
                planned = report.planned.len(),
                rewritten = report.groups.len(),
                committed = report.committed(),
                left_to_others = report.left.len(),
                elapsed_ms = report.elapsed.as_millis() as u64,
                "compaction finished"
            );
            if !report.left.is_empty() {
                let names = |groups: Vec<&str>| groups.join(", ");
                tracing::debug!(
                    table = %ident,
                    rewritten = names(report.groups.iter().map(|g| g.planned.name.as_str()).collect()),
                    left_to_others = names(report.left.iter().map(|g| g.planned.name.as_str()).collect()),
                    "compaction groups"
                );
            }
        }
        Err(e) => {
            record_compaction(None);
            tracing::warn!(table = %ident, error = %e, "compaction failed")
        }
    }
}

/// Expires a table's old snapshots.
async fn expire(tables: &dyn TableCatalog, ident: &TableIdent) {
    match expire_snapshots(tables, ident, None, None).await {
        Ok(report) => {
            tracing::info!(table = %ident, expired = report.expired_snapshots, deleted_files = report.deleted_files, "snapshots expired")
        }
        Err(e) => {
            tracing::warn!(table = %ident, error = %e, "snapshot expiry failed")
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
