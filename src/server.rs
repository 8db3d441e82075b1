//! `floe serve`: opens the warehouse and the embedded store, builds the catalog and serves
//! the REST API until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use floe_locks::{InProcessLockManager, LockManager, ZooKeeperLockManager};
use floe_rest_catalog::auth::Authenticator;
use floe_rest_catalog::storage::file_io::ObjectStoreStorageFactory;
use floe_rest_catalog::store::{CatalogStore, EmbeddedStore, ZooKeeperStore};
use floe_rest_catalog::warehouse::Warehouse;
use floe_rest_catalog::Catalog;
use tokio::net::TcpListener;

use crate::compaction_schedule::CompactionSchedule;
use crate::config::ServeConfig;

/// Builds the catalog described by `config`: the embedded store and in-process locks,
/// or with `zookeeper` set, both in ZooKeeper.
pub async fn build_catalog(config: &ServeConfig) -> anyhow::Result<Catalog> {
    let warehouse = Warehouse::open(&config.warehouse, &config.s3)?;
    let (store, locks): (Arc<dyn CatalogStore>, Arc<dyn LockManager>) = match &config.zookeeper {
        None => (
            Arc::new(EmbeddedStore::open(&config.data_dir)?),
            Arc::new(InProcessLockManager::new()),
        ),
        Some(connect) => {
            let session = Duration::from_millis(config.zk_session_timeout_ms);
            (
                Arc::new(ZooKeeperStore::connect(connect, &config.zk_root, session).await?),
                Arc::new(ZooKeeperLockManager::connect(connect, &config.zk_root, session).await?),
            )
        }
    };
    Ok(Catalog::new(store, warehouse, locks)
        .with_lock_timeout(Duration::from_secs(config.lock_timeout_secs)))
}

/// The locks that keep two nodes from compacting one table at once: in ZooKeeper under
/// `<zk-root>/compaction`, apart from the commit locks, or in-process.
async fn compaction_locks(config: &ServeConfig) -> anyhow::Result<Arc<dyn LockManager>> {
    Ok(match &config.zookeeper {
        None => Arc::new(InProcessLockManager::new()),
        Some(connect) => {
            let root = format!("{}/compaction", config.zk_root.trim_end_matches('/'));
            let session = Duration::from_millis(config.zk_session_timeout_ms);
            Arc::new(ZooKeeperLockManager::connect(connect, &root, session).await?)
        }
    })
}

/// Serves the catalog until a shutdown signal. Prints `floe listening on http://ADDR`
/// once the socket is bound (with port 0, ADDR has the port the system chose).
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let interval = config.compaction_interval()?;
    let auth = match &config.auth {
        Some(a) => Some(Arc::new(Authenticator::new(a)?)),
        None => None,
    };
    let catalog = build_catalog(&config).await?;
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    if let Some(interval) = interval {
        let schedule = CompactionSchedule {
            catalog: catalog.clone(),
            locks: compaction_locks(&config).await?,
            url: format!("http://127.0.0.1:{}", addr.port()),
            auth: auth.clone(),
            interval,
            storage: ObjectStoreStorageFactory {
                defaults: config.s3.clone(),
                within: Some(catalog.warehouse().root().to_string()),
            },
        };
        tracing::info!(?interval, "scheduled compaction on");
        tokio::spawn(schedule.run());
    }
    tracing::info!(%addr, warehouse = %catalog.warehouse().root(), data_dir = %config.data_dir.display(), "catalog ready");
    println!("floe listening on http://{addr}");
    if auth.is_some() {
        tracing::info!("authentication on: bearer tokens required");
    }
    let app = floe_rest_catalog::http::router_with_auth(catalog, auth);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
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
