//! The embedded default: per-key async mutexes inside one process. Correct only while a
//! single `floe serve` process owns the catalog store, which the embedded store enforces.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::{LockError, LockGuard, LockManager};

/// Per-key locks held in this process's memory.
#[derive(Default)]
pub struct InProcessLockManager {
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

impl InProcessLockManager {
    /// An empty lock table.
    pub fn new() -> Self {
        Self::default()
    }

    fn mutex_for(&self, key: &str) -> Arc<AsyncMutex<()>> {
        let mut locks = self.locks.lock().expect("lock table poisoned");
        // Forget mutexes nobody holds or waits for, so the table stays as small as the
        // number of keys in use.
        locks.retain(|_, m| Arc::strong_count(m) > 1);
        locks.entry(key.to_string()).or_default().clone()
    }
}

struct InProcessGuard {
    key: String,
    _guard: OwnedMutexGuard<()>,
}

#[async_trait]
impl LockGuard for InProcessGuard {
    fn key(&self) -> &str {
        &self.key
    }
    fn is_held(&self) -> bool {
        true
    }
}

#[async_trait]
impl LockManager for InProcessLockManager {
    async fn acquire(&self, key: &str, timeout: Duration) -> Result<Box<dyn LockGuard>, LockError> {
        let mutex = self.mutex_for(key);
        match tokio::time::timeout(timeout, mutex.lock_owned()).await {
            Ok(guard) => Ok(Box::new(InProcessGuard {
                key: key.to_string(),
                _guard: guard,
            })),
            Err(_) => Err(LockError::Timeout {
                key: key.to_string(),
                waited: timeout,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_acquire_waits_and_times_out() {
        let locks = InProcessLockManager::new();
        let held = locks.acquire("t1", Duration::from_secs(1)).await.unwrap();
        assert!(held.is_held());
        let err = locks
            .acquire("t1", Duration::from_millis(50))
            .await
            .err()
            .expect("lock is held, acquire must time out");
        assert!(matches!(err, LockError::Timeout { .. }));
        // A different key is independent.
        locks
            .acquire("t2", Duration::from_millis(50))
            .await
            .unwrap();
        drop(held);
        locks
            .acquire("t1", Duration::from_millis(50))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn lock_serializes_concurrent_holders() {
        let locks = Arc::new(InProcessLockManager::new());
        let counter = Arc::new(Mutex::new((0u32, 0u32))); // (inside, max inside)
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let locks = locks.clone();
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                let _g = locks.acquire("t", Duration::from_secs(10)).await.unwrap();
                {
                    let mut c = counter.lock().unwrap();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                counter.lock().unwrap().0 -= 1;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            counter.lock().unwrap().1,
            1,
            "two holders were inside at once"
        );
    }
}
