//! `floe serve`: opens the warehouse, the catalog store and the locks (embedded and
//! in-process, or both in ZooKeeper over the node's one session), builds the catalog with
//! the process's metrics, starts scheduled compaction when asked, and serves the REST API and
//! the table health pages (`/ui`, floe-ui) until SIGTERM or Ctrl-C.

mod node_catalog;
mod schedule;

pub use node_catalog::NodeCatalog;
pub use schedule::{Job, MaintenanceSchedule};

use std::sync::Arc;
use std::time::Duration;

use floe_compaction::GroupClaims;
use floe_locks::{InProcessLockManager, LockManager, ZooKeeperLockManager, ZooKeeperSession};
use floe_rest_catalog::Authenticator;
use floe_rest_catalog::Catalog;
use floe_rest_catalog::Warehouse;
use floe_rest_catalog::{CatalogStore, EmbeddedStore, ZooKeeperStore};
use floe_table::storage::ObjectStoreStorageFactory;
use tokio::net::TcpListener;

use crate::config::ServeConfig;
use crate::group_claims::ZooKeeperGroupClaims;
use crate::maintenance_lock::lock_root;
use crate::metrics::Metrics;

/// What a node runs on: its catalog, and the locks that keep two nodes from compacting
/// one table at once.
pub struct Node {
    /// The catalog: store, warehouse, commit locks.
    pub catalog: Catalog,
    /// Maintenance locks: in ZooKeeper under `<zk-root>/compaction`, apart from the commit
    /// locks, or in-process.
    pub compaction_locks: Arc<dyn LockManager>,
    /// With ZooKeeper, the group claims by which the nodes compact a table together.
    pub compaction_claims: Option<Arc<dyn GroupClaims>>,
    /// With ZooKeeper, the node's one session, closed when the node stops so that its
    /// leased locks go at once rather than when the session expires.
    pub session: Option<Arc<ZooKeeperSession>>,
}

/// Builds the node `config` describes: the embedded store and in-process locks, or with
/// `zookeeper` set, the store and both kinds of locks in ZooKeeper, on one session.
pub async fn build_node(config: &ServeConfig) -> anyhow::Result<Node> {
    let warehouse = Warehouse::open(&config.warehouse, &config.s3)?;
    let mut compaction_claims: Option<Arc<dyn GroupClaims>> = None;
    let mut zookeeper_session = None;
    let (store, locks, compaction_locks): (
        Arc<dyn CatalogStore>,
        Arc<dyn LockManager>,
        Arc<dyn LockManager>,
    ) = match &config.zookeeper {
        None => (
            Arc::new(EmbeddedStore::open(&config.data_dir)?),
            Arc::new(InProcessLockManager::new()),
            Arc::new(InProcessLockManager::new()),
        ),
        Some(connect) => {
            let timeout = Duration::from_millis(config.zk_session_timeout_ms);
            let session = ZooKeeperSession::connect(connect, timeout).await?;
            let root = config.zk_root.trim_end_matches('/');
            compaction_claims = Some(Arc::new(ZooKeeperGroupClaims::new(session.clone(), root)));
            zookeeper_session = Some(session.clone());
            (
                Arc::new(ZooKeeperStore::new(session.clone(), root).await?),
                Arc::new(
                    ZooKeeperLockManager::new(session.clone(), root)
                        .await?
                        .with_lease(Duration::from_millis(config.zk_lock_lease_ms)),
                ),
                Arc::new(ZooKeeperLockManager::new(session, &lock_root(root)).await?),
            )
        }
    };
    let catalog = Catalog::new(store, warehouse, locks)
        .with_lock_timeout(Duration::from_secs(config.lock_timeout_secs))
        .with_idempotency_key_lifetime(config.idempotency_key_lifetime()?)
        .with_telemetry(Metrics::install());
    Ok(Node {
        catalog,
        compaction_locks,
        compaction_claims,
        session: zookeeper_session,
    })
}

/// Serves the catalog until a shutdown signal. Prints `floe listening on http://ADDR`
/// once the socket is bound (with port 0, ADDR has the port the system chose).
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let interval = config.compaction_interval()?;
    let maintenance_interval = config.maintenance_interval()?;
    let auth = match &config.auth {
        Some(a) => Some(Arc::new(Authenticator::new(a)?)),
        None => None,
    };
    let node = build_node(&config).await?;
    let catalog = node.catalog;
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    let storage = ObjectStoreStorageFactory {
        defaults: config.s3.clone(),
        within: Some(catalog.warehouse().root().to_string()),
    };
    let jobs = [
        (Job::Compaction, interval),
        (Job::ConvertDeletes, maintenance_interval),
    ];
    for (job, interval) in jobs {
        let Some(interval) = interval else { continue };
        let schedule = MaintenanceSchedule {
            catalog: catalog.clone(),
            tables: NodeCatalog::new(catalog.clone(), storage.clone()),
            locks: node.compaction_locks.clone(),
            claims: node.compaction_claims.clone(),
            interval,
            job,
        };
        tracing::info!(?interval, ?job, "scheduled maintenance on");
        tokio::spawn(schedule.run());
    }
    tokio::spawn(prune_idempotency_keys(catalog.clone()));
    tracing::info!(%addr, warehouse = %catalog.warehouse().root(), data_dir = %config.data_dir.display(), "catalog ready");
    println!("floe listening on http://{addr}");
    tracing::info!("table health pages on http://{addr}/ui");
    if auth.is_some() {
        tracing::info!("authentication on: bearer tokens required");
    }
    // The health pages answer under /ui, beside the REST API (same authentication).
    let ui = floe_ui::Ui::new(catalog.clone(), storage, auth.clone());
    let app = floe_rest_catalog::router_with_auth(catalog, auth).merge(floe_ui::router(ui));
    // Request ids on the health pages' answers too (the catalog's routes have theirs).
    let app = floe_rest_catalog::with_request_ids(app);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    if let Some(session) = node.session {
        session.close();
    }
    Ok(served?)
}

/// Forgets expired idempotency keys every tenth of their lifetime (at most every minute,
/// at least every second). With ZooKeeper every node prunes; deleting a key twice is
/// harmless.
async fn prune_idempotency_keys(catalog: Catalog) {
    let every = (catalog.idempotency_key_lifetime() / 10)
        .clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match catalog.prune_idempotency_keys().await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "idempotency keys pruned"),
            Err(e) => tracing::warn!(error = %e, "could not prune idempotency keys"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
