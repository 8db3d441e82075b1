//! The ZooKeeper store against a real server: the store contract, and one shared
//! connection for the store and the lock managers.

use std::time::Duration;

use floe_locks::testing::{connections, server, Proxy};
use floe_locks::{LockManager, ZooKeeperLockManager};

use super::*;
use crate::store::store_contract::run_contract;

/// The server the test script started, or `None` after printing SKIP.
fn zookeeper() -> Option<String> {
    server("FLOE_TEST_ZK")
}

/// The store contract against a real ZooKeeper, each run on a session of its own under
/// a fresh root.
#[tokio::test]
async fn zookeeper_store_keeps_the_contract() {
    let Some(connect) = zookeeper() else {
        return;
    };
    run_contract(|| {
        let connect = connect.clone();
        async move {
            let session = ZooKeeperSession::connect(&connect, Duration::from_secs(10));
            let session = session.await.unwrap();
            let root = format!("/store-test-{}", uuid::Uuid::new_v4().simple());
            ZooKeeperStore::new(session, &root).await.unwrap()
        }
    })
    .await;
}

/// A node's store and its two lock managers (commits, compaction) on one session make
/// one connection: a proxy in front of the server opens one, and the server's `cons`
/// lists this session once, on it. Once the session is closed, the store fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_and_the_lock_managers_share_one_connection() {
    let Some(connect) = zookeeper() else {
        return;
    };
    let server = connect.split(',').next().unwrap();
    let proxy = Proxy::start(server.to_string()).await;
    let session = ZooKeeperSession::connect(&proxy.addr, Duration::from_secs(10)).await;
    let session = session.unwrap();
    let root = format!("/store-test-{}", uuid::Uuid::new_v4().simple());
    let compaction_root = format!("{root}/compaction");
    let store = ZooKeeperStore::new(session.clone(), &root).await.unwrap();
    let commits = ZooKeeperLockManager::new(session.clone(), &root).await;
    let compaction = ZooKeeperLockManager::new(session.clone(), &compaction_root).await;
    let (commits, compaction) = (commits.unwrap(), compaction.unwrap());
    let ns = NamespaceIdent::new("ns".into());
    store.create_namespace(&ns, HashMap::new()).await.unwrap();
    let wait = Duration::from_secs(5);
    let _commit = commits.acquire("t", wait).await.unwrap();
    let _compact = compaction.acquire("t", wait).await.unwrap();
    let t = TableIdent::new(ns, "t".into());
    assert_eq!(store.load_entry_fresh(&t).await, Ok(None));

    let ports = proxy.upstream_ports();
    assert_eq!(ports.len(), 1, "connections opened: {ports:?}");
    let sid = format!("{:x}", session.session_id().0);
    let ours: Vec<_> = (connections(server).await.into_iter())
        .filter(|(port, s)| *port == ports[0] || *s == sid)
        .collect();
    assert_eq!(ours, [(ports[0], sid)], "this session's connections");

    session.close();
    let closed = store.ping().await;
    assert!(matches!(closed, Err(StoreError::Failed(_))), "{closed:?}");
}
