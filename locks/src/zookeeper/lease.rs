//! Lock leases: a node that releases a lock keeps its lock node for a short lease, so a
//! burst of commits from this node to one table takes the lock without creating and
//! deleting a node each time (two fsync'd ZooKeeper writes saved per commit).
//!
//! Fairness: from the moment a lock is taken in lease mode, its holder watches the key's
//! directory. Any other contender's node (from another node or from this one) marks the
//! lock contended, and from then on the holder keeps it (reusing it for its own commits)
//! for at most one lease duration: a waiter waits at most one lease beyond the hold in
//! progress, and then gets the lock, since its node is ahead of any the former holder
//! creates next. A lease nobody reuses ends after its duration. Fencing is unchanged: a
//! leased node is reused only while the session it was taken on is connected and was
//! never lost since.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use zookeeper_client::Client;

use super::node::LockNode;
use super::session::lock_ignoring_poison;

/// A lock node that holds its lock, with what fences it.
pub(super) struct HeldNode {
    pub node: LockNode,
    /// The session's loss count when the lock was taken: any loss since ends the hold.
    pub losses_at_acquire: u64,
    /// In lease mode: whether anyone else waits for the lock.
    pub contention: Option<Arc<Contention>>,
}

impl HeldNode {
    /// Whether the lock is still held for certain.
    pub fn is_held(&self) -> bool {
        let session = &self.node.session;
        session.connected() && session.losses() == self.losses_at_acquire
    }

    /// Whether a lease of `duration` may keep (or hand out again) this node: held, and
    /// nobody has waited for it that long.
    fn leasable(&self, duration: Duration) -> bool {
        let waited_less = |c: &Arc<Contention>| c.since().is_none_or(|t| t.elapsed() < duration);
        self.is_held() && self.contention.as_ref().is_some_and(waited_less)
    }

    /// Deletes the node now and waits for the answer (in the background if that fails).
    pub async fn release(self) {
        // Without a client the session has ended, and took the node with it.
        if let Ok(client) = self.node.session.client() {
            self.node.release(&client).await;
        }
    }
}

/// Since when other contenders wait for a held lock; set once, never cleared.
#[derive(Default)]
pub(super) struct Contention {
    since: OnceLock<Instant>,
    wake: Notify,
}

impl Contention {
    fn since(&self) -> Option<Instant> {
        self.since.get().copied()
    }

    fn mark(&self) {
        if self.since.set(Instant::now()).is_ok() {
            self.wake.notify_waiters();
        }
    }

    /// Waits until an idle lease of `duration` ends: `duration` from now if nobody asks
    /// for the lock meanwhile, else `duration` after someone first asked.
    async fn lease_ends(&self, duration: Duration) {
        let notified = self.wake.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so a mark in between still wakes it.
        notified.as_mut().enable();
        if self.since().is_none() {
            let _ = tokio::time::timeout(duration, notified).await;
        }
        if let Some(since) = self.since() {
            tokio::time::sleep_until(since + duration).await;
        }
    }

    /// Starts watching `dir`, in which `name` (this holder's node) has just taken the lock:
    /// contended at once when other nodes are there, later when the children change. A
    /// look that fails or is not answered `by` the acquire's deadline counts as contended,
    /// so no lease is kept on doubt.
    pub async fn watch(client: &Client, dir: &str, name: &str, by: Instant) -> Arc<Contention> {
        let contention = Arc::new(Contention::default());
        let look = tokio::time::timeout_at(by, client.list_and_watch_children(dir)).await;
        match look {
            Ok(Ok((children, watcher))) if children.iter().all(|c| c == name) => {
                let marked = contention.clone();
                // Fires at the latest when this holder's node is deleted or the session ends.
                tokio::spawn(async move {
                    watcher.changed().await;
                    marked.mark();
                });
            }
            _ => contention.mark(),
        }
        contention
    }
}

/// The idle leases of one lock manager, by key directory.
pub(super) struct Leases {
    duration: Duration,
    idle: Mutex<HashMap<String, IdleLease>>,
    next_id: AtomicU64,
}

struct IdleLease {
    id: u64,
    held: HeldNode,
}

impl Leases {
    /// Leases that last `duration` each.
    pub fn new(duration: Duration) -> Arc<Self> {
        Arc::new(Leases {
            duration,
            idle: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// Takes the idle lease on `dir` when it can be reused; one that cannot is deleted.
    pub fn reuse(&self, dir: &str) -> Option<HeldNode> {
        let idle = self.idle_map().remove(dir)?;
        // A node not reused is deleted (in the background) when dropped here.
        idle.held.leasable(self.duration).then_some(idle.held)
    }

    /// Keeps a released lock on `dir` for the lease, or deletes it now when it may not be
    /// kept: no longer held, or waited for by another contender for a lease already.
    pub fn keep(self: &Arc<Self>, dir: String, held: HeldNode) {
        let leasable = held.leasable(self.duration);
        let Some(contention) = held.contention.clone().filter(|_| leasable) else {
            return drop(held);
        };
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let runtime = held.node.session.runtime.clone();
        // The lock has one holder: no other lease of `dir` can be idle here.
        self.idle_map().insert(dir.clone(), IdleLease { id, held });
        let (leases, duration) = (self.clone(), self.duration);
        runtime.spawn(async move {
            contention.lease_ends(duration).await;
            let ended = {
                let mut idle = leases.idle_map();
                match idle.get(&dir) {
                    Some(lease) if lease.id == id => idle.remove(&dir),
                    _ => None,
                }
            };
            if let Some(lease) = ended {
                lease.held.release().await;
            }
        });
    }

    fn idle_map(&self) -> MutexGuard<'_, HashMap<String, IdleLease>> {
        lock_ignoring_poison(&self.idle)
    }
}
