//! The per-table maintenance lock: one compaction or delete conversion of a table at a
//! time, whichever node's schedule or whichever command runs it. In ZooKeeper the keys
//! live under `<zk-root>/compaction`, apart from the commit locks; a key names the table
//! by its uuid, so a rename keeps it. `floe compact` and `floe convert-deletes` take it
//! with `--zookeeper` ([`MaintenanceLockArgs`]), as `floe serve`'s schedules do.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use floe_locks::{LockError, LockGuard, LockManager, ZooKeeperLockManager, ZooKeeperSession};
use floe_table::TableCatalog;
use iceberg::spec::TableMetadata;
use iceberg::TableIdent;

use crate::config::DEFAULT_ZK_ROOT;

/// The znode under which a catalog rooted at `zk_root` keeps its maintenance locks.
pub fn lock_root(zk_root: &str) -> String {
    format!("{}/compaction", zk_root.trim_end_matches('/'))
}

/// The maintenance lock's key of the table `metadata` describes.
pub fn lock_key(metadata: &TableMetadata) -> String {
    format!("compaction-{}", metadata.uuid())
}

/// Where a maintenance command takes the table's maintenance lock.
#[derive(Args, Clone, Debug)]
pub struct MaintenanceLockArgs {
    /// The ZooKeeper connect string of the catalog's nodes: the run takes the table's
    /// maintenance lock there, so it never overlaps a scheduled run or another command.
    /// Without it no lock is taken.
    #[arg(long)]
    pub zookeeper: Option<String>,
    /// The catalog's root znode (as `floe serve --zk-root`).
    #[arg(long, default_value = DEFAULT_ZK_ROOT)]
    pub zk_root: String,
    /// How long to wait for the lock while another run holds it, in seconds (at least 1:
    /// taking a free lock takes a few round trips to ZooKeeper).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub lock_wait_secs: u64,
}

/// A maintenance lock taken, with the session that keeps it.
pub struct HeldLock {
    guard: Box<dyn LockGuard>,
    _locks: Arc<dyn LockManager>,
}

/// Runs `work` holding `lock` (when there is one), then releases it.
pub async fn holding<T>(lock: Option<HeldLock>, work: impl std::future::Future<Output = T>) -> T {
    let out = work.await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    out
}

impl HeldLock {
    /// Releases the lock and waits until it is released: the command's process is about
    /// to exit, and its session would otherwise keep the lock until it expires.
    pub async fn release(self) {
        self.guard.release().await;
    }
}

impl MaintenanceLockArgs {
    /// Takes the maintenance lock of the table `ident` of `catalog`; `None` without
    /// `--zookeeper`, or for a `dry_run` that changes nothing. A lock another run holds
    /// past the wait is an error that says so.
    pub async fn acquire(
        &self,
        catalog: &dyn TableCatalog,
        ident: &TableIdent,
        dry_run: bool,
    ) -> anyhow::Result<Option<HeldLock>> {
        let Some(connect) = self.zookeeper.as_ref().filter(|_| !dry_run) else {
            return Ok(None);
        };
        let metadata = catalog.load_table(ident).await?.metadata;
        let timeout = Duration::from_millis(crate::config::default_zk_session_timeout());
        let session = ZooKeeperSession::connect(connect, timeout).await?;
        let root = lock_root(&self.zk_root);
        let locks: Arc<dyn LockManager> =
            Arc::new(ZooKeeperLockManager::new(session, &root).await?);
        let wait = Duration::from_secs(self.lock_wait_secs);
        match locks.acquire(&lock_key(&metadata), wait).await {
            Ok(guard) => Ok(Some(HeldLock {
                guard,
                _locks: locks,
            })),
            Err(LockError::Timeout { .. }) => anyhow::bail!(
                "{ident} is being maintained by another run (its maintenance lock under {root} is held); nothing was done, try again later"
            ),
            Err(e) => Err(e.into()),
        }
    }
}
