//! ZooKeeper table locks, for several `floe serve` nodes that share one catalog: the standard
//! lock recipe on the `zookeeper-client` crate, with fencing on the ZooKeeper session.
//!
//! Each contender creates an EPHEMERAL_SEQUENTIAL node under `<root>/locks/<key>`; the lowest
//! sequence holds the lock and every waiter watches only its immediate predecessor, so a
//! release wakes one waiter (no herd). A holder that crashes frees the lock when its session
//! expires. A guard follows the state of the session it was taken on: once that session is
//! disconnected, expired or closed, the guard says `is_held() == false` for good, and the
//! commit stops. The client notices a dead connection after 2/5 of the session timeout, well
//! before the server expires the session and lets another node take the lock.
//!
//! A request that fails without a definite answer from the server (a connection lost or
//! reset, say, when the leader stops) may still have been applied. Such a create is followed
//! up by looking for the attempt's node by its unique name prefix, and a node is never
//! forgotten while its session lives: deletes are retried, and as a last resort the session
//! is closed so that ZooKeeper drops its nodes (`zookeeper/node.rs`).
//!
//! A manager keeps its locks on a [`ZooKeeperSession`] that the node may share with other
//! managers (on other roots) and with its catalog store (`zookeeper/session.rs`). After that
//! session has ended (expired, say, after a long partition), the next acquire, or the next
//! request of any other user, opens a new session, so the node takes locks again without a
//! restart; only [`ZooKeeperSession::close`] ends it for good.

mod lease;
mod node;
mod session;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error as ZkError, OneshotWatcher};

use crate::{LockError, LockGuard, LockManager, Unavailable};
use lease::{Contention, HeldNode, Leases};
use node::{find_by_prefix, is_definite, Backoff, LockNode};
use session::Session;
pub use session::ZooKeeperSession;

/// How a manager's directories are made: `<root>/locks` and every node above it.
const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());

/// Hands out locks kept in ZooKeeper under one root, on a [`ZooKeeperSession`] it may share.
pub struct ZooKeeperLockManager {
    session: Arc<ZooKeeperSession>,
    /// `<root>/locks`.
    locks_dir: String,
    /// Released locks kept for a short while, when leases are on ([`with_lease`]).
    ///
    /// [`with_lease`]: Self::with_lease
    leases: Option<Arc<Leases>>,
}

impl ZooKeeperLockManager {
    /// Keeps locks under `root` (e.g. `/floe`) on `session`, creating `<root>/locks` when
    /// missing (and again whenever an acquire finds it gone). Managers on different roots
    /// share one session without sharing any lock.
    pub async fn new(session: Arc<ZooKeeperSession>, root: &str) -> Result<Self, LockError> {
        let locks_dir = locks_dir(root)?;
        let made = session.client().await?.mkdir(&locks_dir, &PERSISTENT).await;
        made.map_err(|e| unavailable(&format!("creating {locks_dir}"), e))?;
        Ok(Self {
            session,
            locks_dir,
            leases: None,
        })
    }

    /// Keeps each released lock for `lease` on this node before deleting its node: an
    /// acquire of the same key on this manager within the lease takes it at once, without
    /// a ZooKeeper write. Once another contender (elsewhere, or another one here) waits,
    /// the lock is kept at most one lease more, then handed over (`zookeeper/lease.rs`).
    /// For commit locks, whose bursts come from one node; [`LockGuard::release`] then
    /// hands the lock to the lease rather than deleting it.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.leases = (!lease.is_zero()).then(|| Leases::new(lease));
        self
    }

    /// Opens a session of its own on `connect_string` (`host:port,host:port,...`) and keeps
    /// locks under `root` on it: [`ZooKeeperSession::connect`], then [`new`](Self::new).
    pub async fn connect(
        connect_string: &str,
        root: &str,
        session_timeout: Duration,
    ) -> Result<Self, LockError> {
        locks_dir(root)?;
        let session = ZooKeeperSession::connect(connect_string, session_timeout).await?;
        let manager = Self::new(session.clone(), root).await;
        if manager.is_err() {
            session.close();
        }
        manager
    }

    /// The session timeout the server granted (to the current session).
    pub fn session_timeout(&self) -> Duration {
        self.session.timeout()
    }

    /// Ends the session without releasing anything: every guard turns `is_held() == false`
    /// at once, and ZooKeeper drops the session's nodes when it closes. Later acquires
    /// answer `Unavailable`; no new session is opened. This is
    /// [`ZooKeeperSession::close`]: on a shared session, it ends every user's.
    pub fn close(&self) {
        self.session.close();
    }
}

/// `<root>/locks`, for an absolute `root`.
fn locks_dir(root: &str) -> Result<String, LockError> {
    let root = root.trim_end_matches('/');
    if !root.starts_with('/') {
        return Err(LockError::unavailable(format!(
            "ZooKeeper lock root must be an absolute path, got {root:?}"
        )));
    }
    Ok(format!("{root}/locks"))
}

struct ZooKeeperGuard {
    key: String,
    /// `Some` until released.
    held: Option<HeldNode>,
    /// Where a released lock goes in lease mode.
    leases: Option<Arc<Leases>>,
}

impl ZooKeeperGuard {
    /// Hands the lock to the lease, or returns it to be deleted.
    fn lease_out(&mut self) -> Option<HeldNode> {
        let held = self.held.take()?;
        match &self.leases {
            Some(leases) => {
                leases.keep(held.node.dir.clone(), held);
                None
            }
            None => Some(held),
        }
    }
}

impl Drop for ZooKeeperGuard {
    fn drop(&mut self) {
        // A node not leased is deleted in the background as it drops.
        drop(self.lease_out());
    }
}

#[async_trait]
impl LockGuard for ZooKeeperGuard {
    fn key(&self) -> &str {
        &self.key
    }

    fn is_held(&self) -> bool {
        self.held.as_ref().is_some_and(HeldNode::is_held)
    }

    async fn release(mut self: Box<Self>) {
        if let Some(held) = self.lease_out() {
            held.release().await;
        }
    }
}

#[async_trait]
impl LockManager for ZooKeeperLockManager {
    async fn acquire(&self, key: &str, timeout: Duration) -> Result<Box<dyn LockGuard>, LockError> {
        let deadline = Instant::now() + timeout;
        let dir = format!("{}/{}", self.locks_dir, encode_key(key));
        let guard = |held| -> Box<dyn LockGuard> {
            Box::new(ZooKeeperGuard {
                key: key.to_string(),
                held: Some(held),
                leases: self.leases.clone(),
            })
        };
        if let Some(held) = self.leases.as_ref().and_then(|l| l.reuse(&dir)) {
            return Ok(guard(held));
        }
        let mut retried = false;
        loop {
            let live = tokio::time::timeout_at(deadline, self.session.live()).await;
            let session = live.unwrap_or_else(|_| {
                Err(LockError::unavailable(format!(
                    "no ZooKeeper session could be opened within {timeout:?}"
                )))
            })?;
            let leased = self.leases.is_some();
            let attempt = acquire_on(&session, &self.locks_dir, &dir, leased, deadline);
            let taken = attempt.await.map(guard);
            match taken.map_err(|e| e.waited(key, timeout)) {
                // The session ended during the attempt, taking the attempt's node with it:
                // try once more, on a new session, while time is left.
                Err(LockError::Unavailable(_))
                    if !retried && session.ended() && Instant::now() < deadline =>
                {
                    retried = true
                }
                result => return result,
            }
        }
    }

    /// [`ZooKeeperSession::connected`]: an ended session is replaced first, in a task of its
    /// own.
    async fn session_connected(&self) -> Option<bool> {
        Some(self.session.connected().await)
    }
}

/// Why an acquire attempt did not take the lock.
enum Missed {
    /// Its deadline passed.
    Timeout,
    /// It failed.
    Failed(LockError),
}

impl Missed {
    fn waited(self, key: &str, waited: Duration) -> LockError {
        match self {
            Missed::Timeout => LockError::Timeout {
                key: key.to_string(),
                waited,
            },
            Missed::Failed(e) => e,
        }
    }
}

/// One acquire attempt on `session`: creates a node under `dir` (a key's directory in
/// `locks_dir`) and waits for its turn; with `leased`, then watches for contenders.
async fn acquire_on(
    session: &Arc<Session>,
    locks_dir: &str,
    dir: &str,
    leased: bool,
    deadline: Instant,
) -> Result<HeldNode, Missed> {
    let client = session.client().map_err(Missed::Failed)?;
    let mut node = LockNode::new(session, dir);
    // Creation is not cut off at the deadline: an abandoned create could leave a node
    // nobody knows about. Each try is one request; retries stop at the deadline, and a node
    // whose create is still unanswered then is deleted by its prefix.
    let created = create_node(session, &client, locks_dir, &mut node, deadline).await;
    let name = created.map_err(Missed::Failed)?;
    node.name = Some(name.clone());
    let turn = wait_turn(session, &client, dir, &node.prefix, &name);
    let missed = match tokio::time::timeout_at(deadline, turn).await {
        Ok(Ok(())) => {
            let losses_at_acquire = session.losses();
            let contention = if leased {
                Some(Contention::watch(&client, dir, &name, deadline).await)
            } else {
                None
            };
            return Ok(HeldNode {
                node,
                losses_at_acquire,
                contention,
            });
        }
        Ok(Err(e)) => Missed::Failed(e),
        Err(_) => Missed::Timeout,
    };
    node.release(&client).await;
    Err(missed)
}

/// Creates this attempt's EPHEMERAL_SEQUENTIAL node (and the key's directory when missing,
/// and `locks_dir` when that is gone too) and returns its name. A create that went
/// unanswered may have made the node: it is then looked for by the attempt's prefix before
/// anything else is sent, and created again only once it is certainly not there.
async fn create_node(
    session: &Session,
    client: &Client,
    locks_dir: &str,
    node: &mut LockNode,
    deadline: Instant,
) -> Result<String, LockError> {
    let ephemeral = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    // A container is removed by the server some time after its last child goes.
    let container = CreateMode::Container.with_acls(Acls::anyone_all());
    let (dir, prefix) = (node.dir.as_str(), node.prefix.as_str());
    let path = format!("{dir}/{prefix}");
    let context = format!("creating a lock node in {dir}");
    let (mut looking, mut made_locks_dir) = (false, false);
    let mut backoff = Backoff::new();
    loop {
        let err = if looking {
            match find_by_prefix(client, dir, prefix).await {
                Ok(Some(name)) => return Ok(name),
                Ok(None) => {
                    looking = false;
                    continue;
                }
                Err(e) => e,
            }
        } else {
            match client.create(&path, &[], &ephemeral).await {
                Ok((_, sequence)) => return Ok(format!("{prefix}{sequence}")),
                // The key's directory is missing (never made, or emptied and removed).
                Err(ZkError::NoNode) => match client.create(dir, &[], &container).await {
                    Ok(_) | Err(ZkError::NodeExists) => continue,
                    // So is `locks_dir` (removed by hand, say): make it again, once.
                    Err(ZkError::NoNode) if !made_locks_dir => {
                        made_locks_dir = true;
                        match client.mkdir(locks_dir, &PERSISTENT).await {
                            Ok(()) => continue,
                            Err(e) => e,
                        }
                    }
                    Err(e) => e,
                },
                Err(e) => {
                    if !is_definite(&e) {
                        (node.stray, looking) = (true, true);
                    }
                    e
                }
            }
        };
        if is_definite(&err) || session.ended() || Instant::now() >= deadline {
            return Err(unavailable(&context, err));
        }
        tracing::debug!(dir, prefix, error = %err, "lock node create unanswered; retrying");
        backoff.pause().await;
    }
}

/// Waits until `name` has the lowest sequence in `dir`, watching only its predecessor.
async fn wait_turn(
    session: &Session,
    client: &Client,
    dir: &str,
    prefix: &str,
    name: &str,
) -> Result<(), LockError> {
    let mine = sequence_of(name)
        .ok_or_else(|| LockError::unavailable(format!("unexpected lock node name {name}")))?;
    let mut backoff = Backoff::new();
    loop {
        let result = next_predecessor(client, dir, prefix, name, mine).await;
        let err = match result {
            Ok(Step::Holds) => return Ok(()),
            // Woken by the predecessor's deletion, or by the session ending (then the next
            // listing fails).
            Ok(Step::Wait(watcher)) => {
                watcher.changed().await;
                continue;
            }
            Ok(Step::Again) => continue,
            Err(WaitError::Lock(e)) => return Err(e),
            Err(WaitError::Zk(context, e)) if is_definite(&e) || session.ended() => {
                return Err(unavailable(&context, e))
            }
            Err(WaitError::Zk(_, e)) => e,
        };
        tracing::debug!(dir, name, error = %err, "lock wait interrupted; retrying");
        backoff.pause().await;
    }
}

/// What one look at the contenders found.
enum Step {
    /// `name` has the lowest sequence.
    Holds,
    /// Wait for the predecessor watched.
    Wait(OneshotWatcher),
    /// The predecessor is already gone: look again.
    Again,
}

enum WaitError {
    Lock(LockError),
    Zk(String, ZkError),
}

/// One look at `dir`. A stray node of this same attempt ahead of `name` (a create whose
/// answer was lost) is deleted rather than waited for.
async fn next_predecessor(
    client: &Client,
    dir: &str,
    prefix: &str,
    name: &str,
    mine: i64,
) -> Result<Step, WaitError> {
    let zk = |context: String| move |e| WaitError::Zk(context, e);
    let children = client
        .list_children(dir)
        .await
        .map_err(zk(format!("listing {dir}")))?;
    if !children.iter().any(|c| c == name) {
        return Err(WaitError::Lock(LockError::unavailable(format!(
            "lock node {dir}/{name} vanished (session expired?)"
        ))));
    }
    let predecessor = children
        .iter()
        .filter_map(|c| sequence_of(c).map(|s| (s, c)))
        .filter(|(s, _)| *s < mine)
        .max_by_key(|(s, _)| *s);
    let Some((_, predecessor)) = predecessor else {
        return Ok(Step::Holds);
    };
    let path = format!("{dir}/{predecessor}");
    if predecessor.starts_with(prefix) {
        return match client.delete(&path, None).await {
            Ok(()) | Err(ZkError::NoNode) => Ok(Step::Again),
            Err(e) => Err(zk(format!("deleting {path}"))(e)),
        };
    }
    match client.check_and_watch_stat(&path).await {
        Ok((Some(_), watcher)) => Ok(Step::Wait(watcher)),
        Ok((None, _)) => Ok(Step::Again),
        Err(e) => Err(zk(format!("watching {path}"))(e)),
    }
}

/// The sequence number ZooKeeper appended to a lock node's name.
fn sequence_of(name: &str) -> Option<i64> {
    let digits = name.rsplit('-').next()?;
    if digits.len() < 10 {
        return None;
    }
    digits.parse().ok()
}

/// Makes a key a single znode name: bytes other than `[A-Za-z0-9._-]` become `%XX`, and the
/// names `.`, `..` and the empty key (not allowed in ZooKeeper) are escaped too.
fn encode_key(key: &str) -> String {
    if key.is_empty() {
        return "%".to_string();
    }
    let dots_only = key.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && !dots_only) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `err` stopped what `context` says: displays as `ZooKeeper: {context}: {err}`.
fn unavailable(context: &str, err: ZkError) -> LockError {
    LockError::Unavailable(Unavailable::caused_by(format!("ZooKeeper: {context}"), err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_single_node_names() {
        let uuid = "0f9c2a6e-1b7d-4c1e-9a51-3b2f0d8e7c44";
        assert_eq!(encode_key(uuid), uuid);
        assert_eq!(encode_key("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(encode_key(".."), "%2E%2E");
        assert_eq!(encode_key("v1.2"), "v1.2");
        assert_eq!(encode_key(""), "%");
        assert_eq!(encode_key("é"), "%C3%A9");
    }

    #[test]
    fn sequence_is_the_trailing_number() {
        assert_eq!(sequence_of("lock-1a2b-7-0000000042"), Some(42));
        assert_eq!(sequence_of("lock-1a2b-7-"), None);
        assert_eq!(sequence_of("lock-1a2b-7"), None);
    }
}
