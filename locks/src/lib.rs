//! Table locks for Floe: one trait, [`LockManager`], that serializes commits per key
//! (a table's UUID), and its implementations: in-process (one `floe serve`) and ZooKeeper
//! (several). Both behave the same: acquire waits at most a bound, a guard frees the lock
//! when dropped, and a holder can ask whether it still holds the lock (fencing).
//!
//! A node opens one [`ZooKeeperSession`] and shares it between everything it keeps in
//! ZooKeeper: its lock managers (each on a root of its own) and its catalog store.

#![deny(missing_docs)]

mod error;
mod in_process;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod zookeeper;

pub use error::{LockError, Unavailable};
pub use in_process::InProcessLockManager;
pub use zookeeper::{ZooKeeperLockManager, ZooKeeperSession};
/// The ZooKeeper client crate whose types this crate's API uses (`Client`, `Error`).
pub use zookeeper_client;

use std::time::Duration;

use async_trait::async_trait;

/// A held lock. Dropping it releases the lock.
#[async_trait]
pub trait LockGuard: Send + Sync {
    /// The key this guard locks.
    fn key(&self) -> &str;
    /// Whether the lock is still held for certain. The in-process lock cannot be lost; a
    /// distributed lock is lost when its session ends, and a commit must then stop.
    fn is_held(&self) -> bool;
    /// Releases the lock and answers once it is released. A dropped distributed lock is
    /// released in the background; a process about to exit releases it this way, so the
    /// next holder need not wait for its session to expire.
    async fn release(self: Box<Self>) {
        drop(self);
    }
}

/// Hands out exclusive locks by key.
#[async_trait]
pub trait LockManager: Send + Sync + 'static {
    /// Waits at most `timeout` for the exclusive lock on `key`.
    async fn acquire(&self, key: &str, timeout: Duration) -> Result<Box<dyn LockGuard>, LockError>;

    /// Whether the session with the coordination service is connected (an ended one is
    /// replaced first, as the next acquire would); `None` for a manager without one
    /// (in-process locks).
    async fn session_connected(&self) -> Option<bool> {
        None
    }
}
