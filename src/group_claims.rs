//! The group claims of compaction together, in ZooKeeper: a claim is the table's lock on
//! the group's name, under the table's [`claim_root`] (so its ephemeral node lives at
//! `<zk-root>/compaction/<table-uuid>/locks/<group>/...`), taken with the lock manager's
//! bounded acquire on the node's (or command's) one session. A node that dies loses its
//! claims when its session expires; pass 2 of the other nodes waits that long for them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use floe_compaction::{GroupClaim, GroupClaims};
use floe_locks::{LockError, LockGuard, LockManager, ZooKeeperLockManager, ZooKeeperSession};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::maintenance_lock::claim_root;

/// How long a claim is tried in pass 1 while another node holds it: taking a free one
/// takes a few round trips to ZooKeeper.
const TRY_WAIT: Duration = Duration::from_millis(500);

/// What pass 2 waits beyond the session timeout for a dead node's claims to go: the server
/// notices an expired session on its next tick.
const EXPIRY_MARGIN: Duration = Duration::from_secs(2);

/// Group claims in ZooKeeper, on one session; one lock manager per table compacted.
pub struct ZooKeeperGroupClaims {
    session: Arc<ZooKeeperSession>,
    zk_root: String,
    tables: Mutex<HashMap<Uuid, Arc<ZooKeeperLockManager>>>,
}

impl ZooKeeperGroupClaims {
    /// Claims of the catalog rooted at `zk_root`, on `session`.
    pub fn new(session: Arc<ZooKeeperSession>, zk_root: &str) -> Self {
        Self {
            session,
            zk_root: zk_root.to_string(),
            tables: Mutex::new(HashMap::new()),
        }
    }

    async fn table(&self, table_uuid: Uuid) -> Result<Arc<ZooKeeperLockManager>, LockError> {
        let mut tables = self.tables.lock().await;
        if let Some(locks) = tables.get(&table_uuid) {
            return Ok(locks.clone());
        }
        let root = claim_root(&self.zk_root, table_uuid);
        let locks = Arc::new(ZooKeeperLockManager::new(self.session.clone(), &root).await?);
        tables.insert(table_uuid, locks.clone());
        Ok(locks)
    }
}

struct Claim(Box<dyn LockGuard>);

#[async_trait]
impl GroupClaim for Claim {
    async fn release(self: Box<Self>) {
        self.0.release().await
    }
}

#[async_trait]
impl GroupClaims for ZooKeeperGroupClaims {
    async fn claim(
        &self,
        table_uuid: Uuid,
        group: &str,
        wait: Duration,
    ) -> Result<Option<Box<dyn GroupClaim>>, Box<dyn std::error::Error + Send + Sync>> {
        let locks = self.table(table_uuid).await?;
        match locks.acquire(group, wait).await {
            Ok(guard) => Ok(Some(Box::new(Claim(guard)))),
            Err(LockError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn try_wait(&self) -> Duration {
        TRY_WAIT
    }

    fn others_wait(&self) -> Duration {
        self.session.timeout() + EXPIRY_MARGIN
    }
}
