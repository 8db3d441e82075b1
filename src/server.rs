//! `floe serve`: opens the warehouse and the embedded store, builds the catalog and serves
//! the REST API until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use floe_locks::InProcessLockManager;
use floe_rest_catalog::store::EmbeddedStore;
use floe_rest_catalog::warehouse::Warehouse;
use floe_rest_catalog::Catalog;
use tokio::net::TcpListener;

use crate::config::ServeConfig;

/// Builds the catalog described by `config`.
pub fn build_catalog(config: &ServeConfig) -> anyhow::Result<Catalog> {
    let warehouse = Warehouse::open(&config.warehouse)?;
    let store = EmbeddedStore::open(&config.data_dir)?;
    Ok(Catalog::new(
        Arc::new(store),
        warehouse,
        Arc::new(InProcessLockManager::new()),
    )
    .with_lock_timeout(Duration::from_secs(config.lock_timeout_secs)))
}

/// Serves the catalog until a shutdown signal. Prints `floe listening on http://ADDR`
/// once the socket is bound (with port 0, ADDR has the port the system chose).
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let catalog = build_catalog(&config)?;
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, warehouse = %catalog.warehouse().root(), data_dir = %config.data_dir.display(), "catalog ready");
    println!("floe listening on http://{addr}");
    let app = floe_rest_catalog::http::router(catalog);
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
