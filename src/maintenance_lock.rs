//! The per-table maintenance lock: one delete conversion or snapshot expiry of a table at a
//! time, whichever node's schedule or whichever command runs it (and, on a node without
//! ZooKeeper, one compaction). In ZooKeeper the keys live under `<zk-root>/compaction`,
//! apart from the commit locks; a key names the table by its uuid, so a rename keeps it.
//! `floe convert-deletes` takes it with `--zookeeper` ([`MaintenanceLockArgs`]), as
//! `floe serve`'s schedules do. The group claims of compaction together
//! (`group_claims`) live beside it, under [`claim_root`]. How a command reaches
//! ZooKeeper is [`ZooKeeperArgs`].

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use floe_locks::{LockError, LockGuard, LockManager, ZooKeeperLockManager, ZooKeeperSession};
use floe_table::TableCatalog;
use iceberg::spec::TableMetadata;
use iceberg::TableIdent;
use uuid::Uuid;

use crate::config::DEFAULT_ZK_ROOT;

/// The znode under which a catalog rooted at `zk_root` keeps its maintenance locks.
pub fn lock_root(zk_root: &str) -> String {
    format!("{}/compaction", zk_root.trim_end_matches('/'))
}

/// The maintenance lock's key of the table `metadata` describes.
pub fn lock_key(metadata: &TableMetadata) -> String {
    format!("compaction-{}", metadata.uuid())
}

/// The root under which the nodes compacting the table `table_uuid` together claim its
/// groups, one lock per group keyed by the group's name: the lock manager keeps them
/// under `<root>/locks/<group>`, so `<zk-root>/compaction/<table-uuid>/locks/<group>`.
pub fn claim_root(zk_root: &str, table_uuid: Uuid) -> String {
    format!("{}/{table_uuid}", lock_root(zk_root))
}

/// How a maintenance command reaches the catalog's ZooKeeper.
#[derive(Args, Clone, Debug)]
pub struct ZooKeeperArgs {
    /// The ZooKeeper connect string of the catalog's nodes: `floe convert-deletes` takes
    /// the table's maintenance lock there, so it never overlaps a scheduled run or another
    /// command; `floe compact` compacts the table together with the nodes and commands
    /// compacting it, each group rewritten by whoever claims it. Without it nothing is
    /// taken or claimed.
    #[arg(long)]
    pub zookeeper: Option<String>,
    /// The catalog's root znode (as `floe serve --zk-root`).
    #[arg(long, default_value = DEFAULT_ZK_ROOT)]
    pub zk_root: String,
    /// The ZooKeeper session timeout in milliseconds: how long the lock or claims of a
    /// run that died last.
    #[arg(long, default_value_t = crate::config::default_zk_session_timeout())]
    pub zk_session_timeout_ms: u64,
}

impl ZooKeeperArgs {
    /// A session on `--zookeeper`; `None` without it.
    pub async fn session(&self) -> anyhow::Result<Option<Arc<ZooKeeperSession>>> {
        let Some(connect) = self.zookeeper.as_ref() else {
            return Ok(None);
        };
        let timeout = Duration::from_millis(self.zk_session_timeout_ms);
        Ok(Some(ZooKeeperSession::connect(connect, timeout).await?))
    }
}

/// Where a maintenance command takes the table's maintenance lock.
#[derive(Args, Clone, Debug)]
pub struct MaintenanceLockArgs {
    /// Where ZooKeeper is.
    #[command(flatten)]
    pub zk: ZooKeeperArgs,
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
        if dry_run || self.zk.zookeeper.is_none() {
            return Ok(None);
        }
        let metadata = catalog.load_table(ident).await?.metadata;
        let Some(session) = self.zk.session().await? else {
            return Ok(None);
        };
        let root = lock_root(&self.zk.zk_root);
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
