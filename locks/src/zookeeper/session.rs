//! The ZooKeeper session of a node, shared by its lock managers and its catalog store: one
//! session at a time, replaced once it has ended.
//!
//! A [`Session`] wraps one `Client` and counts every time its state changes after it
//! connected, i.e. every time it leaves the connected state; that count fences the guards
//! taken on it. [`ZooKeeperSession`] keeps the node's current session. Once that session has
//! terminated (expired, closed by either side, authentication failed), the next caller of
//! [`ZooKeeperSession::client`] (or of an acquire) opens a new one on the same connect
//! string; callers arriving meanwhile wait for that one session (or share its failure)
//! instead of each opening their own. The old session stays dead, and so do its guards.
//! [`ZooKeeperSession::close`] is final. A session knows nothing of the nodes kept on it:
//! each user creates the paths it needs, and they outlive the session.
//!
//! A session is also closed on this side as a last resort, when a lock node cannot be
//! deleted (`node.rs`): its ephemeral nodes go with it, and every user, the store included,
//! goes on with a new session (requests already sent finish on the old one first).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::Instant;
use zookeeper_client::{Client, Error as ZkError, SessionId, StateWatcher};

use crate::{LockError, Unavailable};

/// One ZooKeeper session, shared by its users and the lock nodes created on it.
pub(super) struct Session {
    /// `None` once closed; the session ends when the last clone (in-flight requests) is gone.
    client: Mutex<Option<Client>>,
    state: StateWatcher,
    id: SessionId,
    /// Bumped on every state change after the session connected: a guard remembers the value
    /// it was taken under and is lost as soon as it changes.
    losses: Arc<AtomicU64>,
    /// Starts every node name this session creates, so an attempt whose create reply was
    /// lost can still find (and delete) its node: `lock-<session id>-<attempt>-`.
    name_prefix: String,
    attempts: AtomicU64,
    /// The session timeout the server granted.
    pub timeout: Duration,
    pub runtime: Handle,
}

impl Session {
    /// Connects to `connect_string`, asking for `timeout`.
    async fn open(
        connect_string: &str,
        timeout: Duration,
        runtime: &Handle,
    ) -> Result<Arc<Session>, Unavailable> {
        let connecting = Client::connector()
            .with_session_timeout(timeout)
            .connect(connect_string);
        // The client gives up by itself after about a session timeout; this is a backstop.
        let backstop = timeout * 2 + Duration::from_secs(1);
        let client = tokio::time::timeout(backstop, connecting)
            .await
            .unwrap_or(Err(ZkError::Timeout))
            .map_err(|e| {
                Unavailable::caused_by(format!("ZooKeeper: connecting to {connect_string}"), e)
            })?;

        let id = client.session_id();
        let losses = Arc::new(AtomicU64::new(0));
        let mut states = client.state_watcher();
        let task_losses = losses.clone();
        runtime.spawn(async move {
            // A change notice means the state left SyncConnected (the watch may fold a quick
            // disconnect and reconnect into one notice). `changed` blocks forever after a
            // terminal state, so stop there.
            loop {
                let state = states.changed().await;
                task_losses.fetch_add(1, Ordering::SeqCst);
                let session = format!("{:x}", id.0);
                tracing::warn!(session, %state, "ZooKeeper session state changed");
                if state.is_terminated() {
                    break;
                }
            }
        });
        Ok(Arc::new(Session {
            state: client.state_watcher(),
            timeout: client.session_timeout(),
            client: Mutex::new(Some(client)),
            id,
            losses,
            name_prefix: format!("lock-{:x}-", id.0),
            attempts: AtomicU64::new(0),
            runtime: runtime.clone(),
        }))
    }

    /// The session's client, unless it is closed or has ended.
    pub fn client(&self) -> Result<Client, LockError> {
        if self.state.peek_state().is_terminated() {
            return Err(LockError::unavailable("ZooKeeper session has ended"));
        }
        lock_ignoring_poison(&self.client)
            .clone()
            .ok_or_else(|| LockError::unavailable("ZooKeeper session is closed"))
    }

    /// Whether the session is open and connected right now.
    pub fn connected(&self) -> bool {
        lock_ignoring_poison(&self.client).is_some()
            && self.state.peek_state() == zookeeper_client::SessionState::SyncConnected
    }

    /// How many times the session has left the connected state so far.
    pub fn losses(&self) -> u64 {
        self.losses.load(Ordering::SeqCst)
    }

    /// A node name prefix unique to one acquire attempt on this session.
    pub fn attempt_prefix(&self) -> String {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        format!("{}{attempt}-", self.name_prefix)
    }

    /// Whether the session has ended (expired, closed, authentication failed) for good, or
    /// was closed on this side (it ends once no request holds it any more).
    pub fn ended(&self) -> bool {
        self.state.peek_state().is_terminated() || lock_ignoring_poison(&self.client).is_none()
    }

    /// Drops this side's client: the session ends once in-flight requests are done. Its
    /// guards turn not held at once, and a new session is opened when next asked for.
    pub fn close(&self) {
        lock_ignoring_poison(&self.client).take();
    }
}

/// A node's ZooKeeper session, opened once and shared (as `Arc<ZooKeeperSession>`) by
/// everything the node keeps in ZooKeeper: its [`ZooKeeperLockManager`]s and its catalog
/// store. It holds one session at a time. When that session has ended (expired after a long
/// partition, say), the next user that asks for it opens a new one, once for all users
/// asking meanwhile; guards taken on the old session stay lost. Only [`close`] ends it for
/// good.
///
/// [`ZooKeeperLockManager`]: crate::ZooKeeperLockManager
/// [`close`]: ZooKeeperSession::close
pub struct ZooKeeperSession {
    connect_string: String,
    /// The session timeout asked for.
    asked_timeout: Duration,
    /// Runs the state watchers and the background deletes of dropped guards.
    runtime: Handle,
    current: Mutex<Arc<Session>>,
    closed: AtomicBool,
    /// Held while a new session is being opened. Holds when and why the last opening
    /// failed, so that callers who waited for it share the error instead of each trying
    /// again in turn.
    reopening: tokio::sync::Mutex<Option<(Instant, Unavailable)>>,
}

impl ZooKeeperSession {
    /// Opens a session on `connect_string` (`host:port,host:port,...`), asking for
    /// `session_timeout`. Must run inside a Tokio runtime, which then also runs the session,
    /// its replacements, and the releases of dropped guards.
    pub async fn connect(
        connect_string: &str,
        session_timeout: Duration,
    ) -> Result<Arc<ZooKeeperSession>, LockError> {
        let runtime = Handle::try_current()
            .map_err(|_| LockError::unavailable("a ZooKeeper session needs a Tokio runtime"))?;
        let first = Session::open(connect_string, session_timeout, &runtime).await?;
        Ok(Arc::new(ZooKeeperSession {
            connect_string: connect_string.to_string(),
            asked_timeout: session_timeout,
            runtime,
            current: Mutex::new(first),
            closed: AtomicBool::new(false),
            reopening: tokio::sync::Mutex::new(None),
        }))
    }

    /// The client of the live session, for one request or a few in a row: a new session is
    /// opened first when the current one has ended. Ask again for later requests rather
    /// than keeping the client, so that they go to a live session (and a closed session
    /// really ends once its requests are done). Fails once [`close`](Self::close)d, or when
    /// no new session could be opened (the next call tries again).
    pub async fn client(&self) -> Result<Client, LockError> {
        self.live().await?.client()
    }

    /// The session timeout the server granted the current session.
    pub fn timeout(&self) -> Duration {
        lock_ignoring_poison(&self.current).timeout
    }

    /// The id of the current session: the last one opened, live or not.
    pub fn session_id(&self) -> SessionId {
        lock_ignoring_poison(&self.current).id
    }

    /// Whether the session is connected. When it has ended, a new one is opened first, as
    /// the next user would, in a task of its own: a caller that gives up (a readiness
    /// probe's timeout) does not cancel the opening. `false` once closed.
    pub async fn connected(self: &Arc<Self>) -> bool {
        if let Some(connected) = self.current_connected() {
            return connected;
        }
        let session = self.clone();
        let reopen = self
            .runtime
            .spawn(async move { session.live().await.is_ok_and(|s| s.connected()) });
        reopen.await.unwrap_or(false)
    }

    /// Ends the session for good, without releasing anything: every guard taken on it turns
    /// `is_held() == false` at once, ZooKeeper drops the session's ephemeral nodes when it
    /// closes, and every user's later requests fail; no new session is opened.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        lock_ignoring_poison(&self.current).close();
    }

    /// The current session, or a new one when it has ended. Fails once closed, or when no
    /// new session could be opened (the next call tries again).
    pub(super) async fn live(&self) -> Result<Arc<Session>, LockError> {
        let asked_at = Instant::now();
        let seen = self.current()?;
        if !seen.ended() {
            return Ok(seen);
        }
        let mut last_failure = self.reopening.lock().await;
        let current = self.current()?;
        if !Arc::ptr_eq(&current, &seen) {
            return Ok(current); // opened by another caller while this one waited
        }
        if let Some((failed_at, error)) = &*last_failure {
            if *failed_at >= asked_at {
                return Err(LockError::Unavailable(error.clone()));
            }
        }
        tracing::warn!(
            session = %seen.name_prefix,
            "ZooKeeper session has ended; opening a new one"
        );
        let opened = Session::open(&self.connect_string, self.asked_timeout, &self.runtime);
        let fresh = match opened.await {
            Ok(fresh) => fresh,
            Err(e) => {
                *last_failure = Some((Instant::now(), e.clone()));
                return Err(LockError::Unavailable(e));
            }
        };
        *last_failure = None;
        let mut current = lock_ignoring_poison(&self.current);
        if self.closed.load(Ordering::SeqCst) {
            fresh.close();
            return Err(closed());
        }
        std::mem::replace(&mut *current, fresh.clone()).close();
        Ok(fresh)
    }

    /// Whether the current session is connected; `None` when it has ended (or is closed
    /// for good) and only a new session could say.
    fn current_connected(&self) -> Option<bool> {
        let current = self.current().ok()?;
        (!current.ended()).then(|| current.connected())
    }

    fn current(&self) -> Result<Arc<Session>, LockError> {
        let current = lock_ignoring_poison(&self.current);
        if self.closed.load(Ordering::SeqCst) {
            return Err(closed());
        }
        Ok(current.clone())
    }
}

fn closed() -> LockError {
    LockError::unavailable("ZooKeeper session is closed for good")
}

/// The mutex's guard, also after a holder panicked (the data stays consistent: every
/// change under these locks is a single insert or remove).
pub(super) fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
