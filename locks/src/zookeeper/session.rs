//! The ZooKeeper sessions of a lock manager: one at a time, replaced once it has ended.
//!
//! A [`Session`] wraps one `Client` and counts every time its state changes after it
//! connected, i.e. every time it leaves the connected state; that count fences the guards
//! taken on it. [`Sessions`] keeps the manager's current session. Once that session has
//! terminated (expired, closed by either side, authentication failed), [`Sessions::live`]
//! opens a new one on the same connect string; callers arriving meanwhile wait for that one
//! session (or share its failure) instead of each opening their own. The old session stays
//! dead, and so do its guards. [`Sessions::close`] is final.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::Instant;
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError, StateWatcher};

use super::unavailable;
use crate::LockError;

/// Where and how the manager opens its sessions.
pub(super) struct Config {
    pub connect_string: String,
    /// `<root>/locks`, created when missing.
    pub locks_dir: String,
    /// The session timeout asked for.
    pub timeout: Duration,
    pub runtime: Handle,
}

/// One ZooKeeper session, shared by the manager and the lock nodes created on it.
pub(super) struct Session {
    /// `None` once closed; the session ends when the last clone (in-flight requests) is gone.
    client: Mutex<Option<Client>>,
    state: StateWatcher,
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
    async fn open(config: &Config) -> Result<Arc<Session>, LockError> {
        let connecting = Client::connector()
            .with_session_timeout(config.timeout)
            .connect(&config.connect_string);
        // The client gives up by itself after about a session timeout; this is a backstop.
        let ctx = format!("connecting to {}", config.connect_string);
        let backstop = config.timeout * 2 + Duration::from_secs(1);
        let client = tokio::time::timeout(backstop, connecting)
            .await
            .unwrap_or(Err(ZkError::Timeout))
            .map_err(|e| unavailable(&ctx, e))?;
        let dir = &config.locks_dir;
        let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let made = client.mkdir(dir, &persistent).await;
        made.map_err(|e| unavailable(&format!("creating {dir}"), e))?;

        let id = client.session_id().0;
        let losses = Arc::new(AtomicU64::new(0));
        let mut states = client.state_watcher();
        let task_losses = losses.clone();
        config.runtime.spawn(async move {
            // A change notice means the state left SyncConnected (the watch may fold a quick
            // disconnect and reconnect into one notice). `changed` blocks forever after a
            // terminal state, so stop there.
            loop {
                let state = states.changed().await;
                task_losses.fetch_add(1, Ordering::SeqCst);
                let session = format!("{id:x}");
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
            losses,
            name_prefix: format!("lock-{id:x}-"),
            attempts: AtomicU64::new(0),
            runtime: config.runtime.clone(),
        }))
    }

    /// The session's client, unless it is closed or has ended.
    pub fn client(&self) -> Result<Client, LockError> {
        if self.state.peek_state().is_terminated() {
            return Err(LockError::Unavailable(
                "ZooKeeper session has ended".to_string(),
            ));
        }
        lock_ignoring_poison(&self.client)
            .clone()
            .ok_or_else(|| LockError::Unavailable("ZooKeeper session is closed".to_string()))
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
    /// guards turn not held at once, and the manager opens a new session when next asked.
    pub fn close(&self) {
        lock_ignoring_poison(&self.client).take();
    }
}

/// The manager's current session, and the opening of the next one.
pub(super) struct Sessions {
    config: Config,
    current: Mutex<Arc<Session>>,
    closed: AtomicBool,
    /// Held while a new session is being opened. Holds when and why the last opening
    /// failed, so that callers who waited for it share the error instead of each trying
    /// again in turn.
    reopening: tokio::sync::Mutex<Option<(Instant, String)>>,
}

impl Sessions {
    /// Opens the first session.
    pub async fn open(config: Config) -> Result<Sessions, LockError> {
        let first = Session::open(&config).await?;
        Ok(Sessions {
            config,
            current: Mutex::new(first),
            closed: AtomicBool::new(false),
            reopening: tokio::sync::Mutex::new(None),
        })
    }

    /// The session timeout the server granted the current session.
    pub fn timeout(&self) -> Duration {
        lock_ignoring_poison(&self.current).timeout
    }

    /// The current session, or a new one when it has ended. Fails once closed, or when no
    /// new session could be opened (the next call tries again).
    pub async fn live(&self) -> Result<Arc<Session>, LockError> {
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
        let fresh = match Session::open(&self.config).await {
            Ok(fresh) => fresh,
            Err(e) => {
                let message = match &e {
                    LockError::Unavailable(m) => m.clone(),
                    other => other.to_string(),
                };
                *last_failure = Some((Instant::now(), message));
                return Err(e);
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

    /// Closes the current session for good: no session is opened after this.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        lock_ignoring_poison(&self.current).close();
    }

    /// Whether the current session is connected; `None` when it has ended (or the
    /// manager is closed) and only a new session could say.
    pub fn current_connected(&self) -> Option<bool> {
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
    LockError::Unavailable("ZooKeeper lock manager is closed".to_string())
}

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
