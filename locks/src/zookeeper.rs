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
//! After the session has ended (expired, say, after a long partition), the next acquire opens
//! a new session (`zookeeper/session.rs`), so the node takes locks again without a restart;
//! only [`ZooKeeperLockManager::close`] ends the manager for good.

mod session;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::runtime::Handle;
use tokio::time::Instant;
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError};

use crate::{LockError, LockGuard, LockManager};
use session::{Config, Session, Sessions};

/// Pause before retrying an operation that failed with a connection loss.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Hands out locks kept in ZooKeeper, on one session at a time.
pub struct ZooKeeperLockManager {
    sessions: Sessions,
    /// `<root>/locks`.
    locks_dir: String,
}

impl ZooKeeperLockManager {
    /// Opens a session on `connect_string` (`host:port,host:port,...`) and keeps locks under
    /// `root` (e.g. `/floe`), creating `<root>/locks` when missing. Must run inside a Tokio
    /// runtime, which then also runs the session and the releases of dropped guards.
    pub async fn connect(
        connect_string: &str,
        root: &str,
        session_timeout: Duration,
    ) -> Result<Self, LockError> {
        let root = root.trim_end_matches('/');
        if !root.starts_with('/') {
            return Err(LockError::Unavailable(format!(
                "ZooKeeper lock root must be an absolute path, got {root:?}"
            )));
        }
        let runtime = Handle::try_current().map_err(|_| {
            LockError::Unavailable("ZooKeeper locks need a Tokio runtime".to_string())
        })?;
        let locks_dir = format!("{root}/locks");
        let sessions = Sessions::open(Config {
            connect_string: connect_string.to_string(),
            locks_dir: locks_dir.clone(),
            timeout: session_timeout,
            runtime,
        })
        .await?;
        Ok(Self {
            sessions,
            locks_dir,
        })
    }

    /// The session timeout the server granted (to the current session).
    pub fn session_timeout(&self) -> Duration {
        self.sessions.timeout()
    }

    /// Ends the session without releasing anything: every guard turns `is_held() == false`
    /// at once, and ZooKeeper drops this session's nodes when it closes. Later acquires
    /// answer `Unavailable`; no new session is opened.
    pub fn close(&self) {
        self.sessions.close();
    }
}

/// A contender's node, deleted when this is dropped (in the background) unless released.
struct LockNode {
    /// The session the node is (to be) created on, which alone can delete it.
    session: Arc<Session>,
    dir: String,
    /// The name prefix of this attempt, unique within the session.
    prefix: String,
    /// The node's name once known; `None` while the create's outcome is unknown.
    name: Option<String>,
    armed: bool,
}

impl LockNode {
    /// Deletes the node now and waits for the answer; falls back to the background delete.
    async fn release(mut self, client: &Client) {
        if let Some(name) = &self.name {
            let deleted = client.delete(&format!("{}/{name}", self.dir), None).await;
            // On failure Drop retries in the background.
            self.armed = !matches!(deleted, Ok(()) | Err(ZkError::NoNode));
        }
    }
}

impl Drop for LockNode {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // A closed or ended session takes its nodes with it.
        let Ok(client) = self.session.client() else {
            return;
        };
        let (dir, prefix, name) = (self.dir.clone(), self.prefix.clone(), self.name.take());
        let give_up = Instant::now() + self.session.timeout * 2;
        // Send a known node's delete right away, so it reaches the server before any request
        // made after this drop; only its answer is awaited in the background.
        let mut first = (name.as_ref()).map(|n| client.delete(&format!("{dir}/{n}"), None));
        self.session.runtime.spawn(async move {
            loop {
                let result = match (first.take(), &name) {
                    (Some(sent), _) => sent.await,
                    (None, Some(n)) => client.delete(&format!("{dir}/{n}"), None).await,
                    (None, None) => delete_by_prefix(&client, &dir, &prefix).await,
                };
                match result {
                    Ok(()) | Err(ZkError::NoNode) => return,
                    Err(ZkError::ConnectionLoss) if Instant::now() < give_up => {
                        tokio::time::sleep(RETRY_PAUSE).await
                    }
                    // The session is gone (its nodes with it) or the server refused.
                    Err(e) => {
                        tracing::warn!(dir, prefix, error = %e, "could not delete a lock node");
                        return;
                    }
                }
            }
        });
    }
}

async fn delete_by_prefix(client: &Client, dir: &str, prefix: &str) -> Result<(), ZkError> {
    for child in client.list_children(dir).await? {
        if child.starts_with(prefix) {
            client.delete(&format!("{dir}/{child}"), None).await?;
        }
    }
    Ok(())
}

struct ZooKeeperGuard {
    key: String,
    losses_at_acquire: u64,
    node: LockNode,
}

impl LockGuard for ZooKeeperGuard {
    fn key(&self) -> &str {
        &self.key
    }

    fn is_held(&self) -> bool {
        let session = &self.node.session;
        session.connected() && session.losses() == self.losses_at_acquire
    }
}

#[async_trait]
impl LockManager for ZooKeeperLockManager {
    async fn acquire(&self, key: &str, timeout: Duration) -> Result<Box<dyn LockGuard>, LockError> {
        let deadline = Instant::now() + timeout;
        let dir = format!("{}/{}", self.locks_dir, encode_key(key));
        let mut retried = false;
        loop {
            let live = tokio::time::timeout_at(deadline, self.sessions.live()).await;
            let session = live.unwrap_or_else(|_| {
                Err(LockError::Unavailable(format!(
                    "no ZooKeeper session could be opened within {timeout:?}"
                )))
            })?;
            match acquire_on(&session, key, &dir, timeout, deadline).await {
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
}

/// One acquire attempt on `session`: creates a node under `dir` and waits for its turn.
async fn acquire_on(
    session: &Arc<Session>,
    key: &str,
    dir: &str,
    timeout: Duration,
    deadline: Instant,
) -> Result<Box<dyn LockGuard>, LockError> {
    let client = session.client()?;
    let mut node = LockNode {
        session: session.clone(),
        dir: dir.to_string(),
        prefix: session.attempt_prefix(),
        name: None,
        armed: true,
    };
    // Creation is not cut off at the deadline: an abandoned create could leave a node
    // nobody knows about. Each try is one request; retries stop at the deadline.
    let name = create_node(&client, dir, &node.prefix, deadline).await?;
    node.name = Some(name.clone());
    let turn = tokio::time::timeout_at(deadline, wait_turn(&client, dir, &name)).await;
    let err = match turn {
        Ok(Ok(())) => {
            return Ok(Box::new(ZooKeeperGuard {
                key: key.to_string(),
                losses_at_acquire: session.losses(),
                node,
            }))
        }
        Ok(Err(e)) => e,
        Err(_) => LockError::Timeout {
            key: key.to_string(),
            waited: timeout,
        },
    };
    node.release(&client).await;
    Err(err)
}

/// Creates this attempt's EPHEMERAL_SEQUENTIAL node (and the key's directory when missing)
/// and returns its name.
async fn create_node(
    client: &Client,
    dir: &str,
    prefix: &str,
    deadline: Instant,
) -> Result<String, LockError> {
    let ephemeral = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    // A container is removed by the server some time after its last child goes.
    let container = CreateMode::Container.with_acls(Acls::anyone_all());
    let path = format!("{dir}/{prefix}");
    loop {
        let err = match client.create(&path, &[], &ephemeral).await {
            Ok((_, sequence)) => return Ok(format!("{prefix}{sequence}")),
            Err(e) => e,
        };
        match err {
            // The key's directory is missing (never made, or emptied and removed).
            ZkError::NoNode => match client.create(dir, &[], &container).await {
                Ok(_) | Err(ZkError::NodeExists) => continue,
                Err(ZkError::ConnectionLoss) => {}
                Err(e) => return Err(unavailable(&format!("creating {dir}"), e)),
            },
            // The create may have happened: look for this attempt's node.
            ZkError::ConnectionLoss => {
                if let Ok(children) = client.list_children(dir).await {
                    if let Some(name) = children.into_iter().find(|c| c.starts_with(prefix)) {
                        return Ok(name);
                    }
                }
            }
            e => return Err(unavailable(&format!("creating a lock node in {dir}"), e)),
        }
        if Instant::now() >= deadline {
            return Err(LockError::Unavailable(format!(
                "ZooKeeper connection lost while creating a lock node in {dir}"
            )));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Waits until `name` has the lowest sequence in `dir`, watching only its predecessor.
async fn wait_turn(client: &Client, dir: &str, name: &str) -> Result<(), LockError> {
    let mine = sequence_of(name)
        .ok_or_else(|| LockError::Unavailable(format!("unexpected lock node name {name}")))?;
    loop {
        let children = match client.list_children(dir).await {
            Ok(children) => children,
            Err(ZkError::ConnectionLoss) => {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            Err(e) => return Err(unavailable(&format!("listing {dir}"), e)),
        };
        if !children.iter().any(|c| c == name) {
            return Err(LockError::Unavailable(format!(
                "lock node {dir}/{name} vanished (session expired?)"
            )));
        }
        let predecessor = children
            .iter()
            .filter_map(|c| sequence_of(c).map(|s| (s, c)))
            .filter(|(s, _)| *s < mine)
            .max_by_key(|(s, _)| *s);
        let Some((_, predecessor)) = predecessor else {
            return Ok(());
        };
        match client
            .check_and_watch_stat(&format!("{dir}/{predecessor}"))
            .await
        {
            // Woken by the predecessor's deletion, or by the session ending (then the next
            // listing fails).
            Ok((Some(_), watcher)) => {
                watcher.changed().await;
            }
            Ok((None, _)) => {}
            Err(ZkError::ConnectionLoss) => tokio::time::sleep(RETRY_PAUSE).await,
            Err(e) => return Err(unavailable(&format!("watching {dir}/{predecessor}"), e)),
        }
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

pub(crate) fn unavailable(context: &str, err: ZkError) -> LockError {
    LockError::Unavailable(format!("ZooKeeper: {context}: {err}"))
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
