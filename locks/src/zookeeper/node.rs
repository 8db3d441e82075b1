//! A contender's lock node and its deletion, which must never be given up on while the
//! node's session lives: a node left behind by a live session holds the lock forever.
//!
//! ZooKeeper answers some errors for certain (no node, node exists, ...: see
//! [`is_definite`]). Every other error (connection loss or reset, I/O, timeout, anything
//! unexpected) leaves the request's outcome unknown: a create may have made its node, a
//! delete may not have happened. So a node whose create went unanswered is looked for by its
//! unique name prefix, and a delete is retried, with backoff, until it is answered. A delete
//! that still fails after a few session timeouts, or is refused for certain, closes the
//! session instead, and ZooKeeper then drops the session's ephemeral nodes itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client::{Client, Error as ZkError};

use super::session::Session;

/// First pause before retrying a request whose outcome is unknown; it doubles up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How many session timeouts a background delete keeps trying on a session that has not
/// ended before it closes the session instead.
const DELETE_PATIENCE: u32 = 4;

/// Whether `err` is the server's definite answer, so that the request certainly did what the
/// answer says (for a failed write: nothing). Any other error leaves the outcome unknown.
pub(super) fn is_definite(err: &ZkError) -> bool {
    matches!(
        err,
        ZkError::NoNode
            | ZkError::NodeExists
            | ZkError::BadVersion
            | ZkError::NotEmpty
            | ZkError::NoAuth
            | ZkError::InvalidAcl
            | ZkError::BadArguments(_)
            | ZkError::NoChildrenForEphemerals
            | ZkError::QuotaExceeded
            | ZkError::Unimplemented
    )
}

/// Growing pauses between retries.
pub(super) struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Backoff(FIRST_PAUSE)
    }

    pub async fn pause(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(MAX_PAUSE);
    }
}

/// A contender's node, deleted when this is dropped (in the background) unless released.
pub(super) struct LockNode {
    /// The session the node is (to be) created on, which alone can delete it.
    pub session: Arc<Session>,
    pub dir: String,
    /// The name prefix of this attempt, unique within the session.
    pub prefix: String,
    /// The node's name once known; `None` while the create's outcome is unknown.
    pub name: Option<String>,
    /// A create went unanswered: besides `name`, a node with `prefix` may exist.
    pub stray: bool,
    pub armed: bool,
}

impl LockNode {
    pub fn new(session: &Arc<Session>, dir: &str) -> Self {
        LockNode {
            session: session.clone(),
            dir: dir.to_string(),
            prefix: session.attempt_prefix(),
            name: None,
            stray: false,
            armed: true,
        }
    }

    /// Deletes the node now and waits for the answer; falls back to the background delete.
    pub async fn release(mut self, client: &Client) {
        let (dir, prefix) = (&self.dir, &self.prefix);
        let by_name = match &self.name {
            Some(name) => client.delete(&format!("{dir}/{name}"), None).await,
            None => Ok(()),
        };
        let deleted = match by_name {
            Ok(()) | Err(ZkError::NoNode) if self.name.is_none() || self.stray => {
                delete_by_prefix(client, dir, prefix).await
            }
            other => other,
        };
        // On failure Drop retries in the background.
        self.armed = !matches!(deleted, Ok(()) | Err(ZkError::NoNode));
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
        let session = self.session.clone();
        let (dir, prefix, name) = (self.dir.clone(), self.prefix.clone(), self.name.take());
        let by_prefix = name.is_none() || self.stray;
        // Send a known node's delete right away, so it reaches the server before any request
        // made after this drop; only its answer is awaited in the background.
        let mut first = (name.as_ref()).map(|n| client.delete(&format!("{dir}/{n}"), None));
        let give_up = Instant::now() + session.timeout * DELETE_PATIENCE;
        let mut backoff = Backoff::new();
        self.session.runtime.spawn(async move {
            let mut by_name = name.is_some();
            loop {
                let result = if let Some(sent) = first.take() {
                    sent.await
                } else if let (true, Some(n)) = (by_name, &name) {
                    client.delete(&format!("{dir}/{n}"), None).await
                } else if by_prefix {
                    delete_by_prefix(&client, &dir, &prefix).await
                } else {
                    Ok(())
                };
                let err = match result {
                    Ok(()) | Err(ZkError::NoNode) if by_name && by_prefix => {
                        by_name = false;
                        continue;
                    }
                    Ok(()) | Err(ZkError::NoNode) => return,
                    Err(e) => e,
                };
                // The session has ended (or is closed): its nodes go with it.
                if session.ended() {
                    return;
                }
                if is_definite(&err) || Instant::now() >= give_up {
                    tracing::warn!(
                        dir, prefix, error = %err,
                        "could not delete a lock node; closing its session to drop it"
                    );
                    drop(client); // the session ends once no request holds it
                    session.close();
                    return;
                }
                tracing::debug!(dir, prefix, error = %err, "retrying a lock node's delete");
                backoff.pause().await;
            }
        });
    }
}

/// The node whose name starts with `prefix` in `dir`, read after a sync so that every
/// request of this session answered or lost before is reflected.
pub(super) async fn find_by_prefix(
    client: &Client,
    dir: &str,
    prefix: &str,
) -> Result<Option<String>, ZkError> {
    client.sync(dir).await?;
    match client.list_children(dir).await {
        Ok(children) => Ok(children.into_iter().find(|c| c.starts_with(prefix))),
        Err(ZkError::NoNode) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes every node whose name starts with `prefix` in `dir`.
async fn delete_by_prefix(client: &Client, dir: &str, prefix: &str) -> Result<(), ZkError> {
    while let Some(name) = find_by_prefix(client, dir, prefix).await? {
        match client.delete(&format!("{dir}/{name}"), None).await {
            Ok(()) | Err(ZkError::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
