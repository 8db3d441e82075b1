//! Scheduled compaction inside `floe serve`: every interval, each table whose
//! `floe.compaction.enabled` is not `false` is compacted and its old snapshots expired,
//! under a per-table compaction lock that is separate from the commit locks. With
//! ZooKeeper the lock lives there, so of several nodes at most one compacts a table at a
//! time, and a node that dies loses its lock with its session. The compactor talks to
//! this node's own REST API, so its commits take the same path as any client's.

use std::sync::Arc;
use std::time::Duration;

use floe_compaction::expire_run::expire_snapshots;
use floe_compaction::replace_commit::GroupOutcome;
use floe_compaction::run::{compact, CompactionReport, CompactionRequest, Silent};
use floe_locks::{LockError, LockManager};
use floe_rest_catalog::auth::Authenticator;
use floe_rest_catalog::store::PageRequest;
use floe_rest_catalog::Catalog;
use iceberg::{NamespaceIdent, TableIdent};

use crate::rest_client::RestClient;
use crate::rest_table::RestTable;
use floe_rest_catalog::storage::file_io::ObjectStoreStorageFactory;

/// Table property that turns scheduled compaction off for one table.
pub const ENABLED: &str = "floe.compaction.enabled";
/// How long a node waits for a table's compaction lock before leaving the table to the
/// node that holds it.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// The scheduler of one node.
pub struct CompactionSchedule {
    pub catalog: Catalog,
    /// Compaction locks, by table uuid.
    pub locks: Arc<dyn LockManager>,
    /// This node's REST API.
    pub url: String,
    /// With authentication on, the node's own token for that API comes from here.
    pub auth: Option<Arc<Authenticator>>,
    pub interval: Duration,
    /// The node's own storage settings (its `[s3]` credentials, kept inside the
    /// warehouse), for the FileIO that reads, writes and deletes the tables' files.
    pub storage: ObjectStoreStorageFactory,
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

fn name(ident: &TableIdent) -> String {
    format!("{}.{}", ident.namespace().join("."), ident.name())
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

    fn token(&self) -> anyhow::Result<Option<String>> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp();
        Ok(Some(auth.internal_token(now)?.access_token))
    }

    /// Compacts every enabled table whose lock this node gets.
    pub async fn round(&self) -> anyhow::Result<()> {
        for ident in all_tables(&self.catalog).await? {
            // A fresh token per table, so a long round does not outlive it.
            let client = RestClient::connect_with_token(&self.url, self.token()?)
                .await?
                .with_storage(self.storage.clone());
            let table = match self.catalog.load_table(&ident).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(table = %name(&ident), error = %e, "not compacted: cannot load");
                    continue;
                }
            };
            let metadata = &table.metadata;
            if metadata.properties().get(ENABLED).map(String::as_str) == Some("false") {
                continue;
            }
            let key = format!("compaction-{}", metadata.uuid());
            let guard = match self.locks.acquire(&key, LOCK_WAIT).await {
                Ok(guard) => guard,
                Err(LockError::Timeout { .. }) => {
                    tracing::info!(table = %name(&ident), "compaction skipped: another node is compacting the table");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(table = %name(&ident), error = %e, "compaction skipped: no lock");
                    continue;
                }
            };
            let rest = Arc::new(RestTable {
                client: client.clone(),
                ident: ident.clone(),
            });
            tracing::info!(table = %name(&ident), "compaction started");
            match compact(
                rest.clone(),
                &CompactionRequest::default(),
                Arc::new(Silent),
            )
            .await
            {
                Ok(report) => {
                    record_compaction(&report);
                    tracing::info!(
                        table = %name(&ident),
                        planned = report.planned.len(),
                        committed = report.committed(),
                        elapsed_ms = report.elapsed.as_millis() as u64,
                        "compaction finished"
                    )
                }
                Err(e) => {
                    metrics::counter!("floe_compaction_runs_total", "outcome" => "failed")
                        .increment(1);
                    tracing::warn!(table = %name(&ident), error = %e, "compaction failed")
                }
            }
            if guard.is_held() {
                match expire_snapshots(rest.as_ref(), None, None).await {
                    Ok(report) => {
                        tracing::info!(table = %name(&ident), expired = report.expired_snapshots, deleted_files = report.deleted_files, "snapshots expired")
                    }
                    Err(e) => {
                        tracing::warn!(table = %name(&ident), error = %e, "snapshot expiry failed")
                    }
                }
            }
            drop(guard);
        }
        Ok(())
    }
}

/// Counts a finished run for `/metrics`: its groups by outcome, and the files and bytes
/// the committed groups rewrote.
fn record_compaction(report: &CompactionReport) {
    metrics::counter!("floe_compaction_runs_total", "outcome" => "ok").increment(1);
    for group in &report.groups {
        let outcome = match &group.outcome {
            Ok(GroupOutcome::Committed { .. }) => "committed",
            Ok(GroupOutcome::Skipped(_)) => "skipped",
            Ok(GroupOutcome::Unknown(_)) => "unknown",
            Err(_) => "failed",
        };
        metrics::counter!("floe_compaction_groups_total", "outcome" => outcome).increment(1);
        if outcome == "committed" {
            let files = group.planned.data_files + group.planned.delete_files;
            metrics::counter!("floe_compaction_files_rewritten_total").increment(files as u64);
            metrics::counter!("floe_compaction_bytes_rewritten_total")
                .increment(group.planned.input_bytes);
        }
    }
}
