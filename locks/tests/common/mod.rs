//! Helpers of the ZooKeeper lock tests: roots of their own and a look at lock nodes from
//! outside. The server named by the environment, its view of its connections (`cons`) and
//! the TCP proxy come from `floe_locks::testing`, which other crates' tests share.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use floe_locks::testing::{connections, server, Proxy};
use floe_locks::ZooKeeperLockManager;

/// The session timeout most tests ask for.
pub const SESSION: Duration = Duration::from_secs(5);

/// A root of its own for each test, so tests running at once never share a lock.
pub fn unique_root(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("/floe-test/{test}-{}-{nanos}", std::process::id())
}

/// A manager on a session of its own.
pub async fn manager(connect: &str, root: &str, session: Duration) -> Arc<ZooKeeperLockManager> {
    Arc::new(
        ZooKeeperLockManager::connect(connect, root, session)
            .await
            .expect("connect to ZooKeeper"),
    )
}

/// The contender nodes under a key, read on a separate session.
pub async fn lock_nodes(connect: &str, root: &str, key: &str) -> Vec<String> {
    let client = zookeeper_client::Client::connect(connect).await.unwrap();
    match client.list_children(&format!("{root}/locks/{key}")).await {
        Ok(children) => children,
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => panic!("listing lock nodes: {e}"),
    }
}

/// The session a lock node was created on: `lock-<session id>-<attempt>-<sequence>`.
pub fn node_session(name: &str) -> String {
    name.split('-')
        .nth(1)
        .expect("a lock node name")
        .to_string()
}

/// The session ids of the lock nodes under `key`, one per node.
pub async fn lock_sessions(connect: &str, root: &str, key: &str) -> Vec<String> {
    let nodes = lock_nodes(connect, root, key).await;
    nodes.iter().map(|n| node_session(n)).collect()
}

/// Waits until `check` holds, failing after `within`.
pub async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
