//! Commit-lock leases against a real ZooKeeper (`FLOE_TEST_ZK`; the test prints `SKIP`
//! and passes only when it is unset): a released lock is kept and reused by its node
//! without a new znode, ends after its lease, and never keeps another node waiting past
//! the hold in progress; a leased lock is lost with its session.

#[allow(dead_code, unused_imports)]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{lock_nodes, server, unique_root, SESSION};
use floe_locks::{LockManager, ZooKeeperLockManager};

async fn leased_manager(connect: &str, root: &str, lease: Duration) -> Arc<ZooKeeperLockManager> {
    let manager = ZooKeeperLockManager::connect(connect, root, SESSION).await;
    Arc::new(manager.expect("connect to ZooKeeper").with_lease(lease))
}

/// Waits until the key's contender nodes are `expected` (by count), failing after 5 s.
async fn nodes_become(connect: &str, root: &str, key: &str, expected: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let nodes = lock_nodes(connect, root, key).await;
        if nodes.len() == expected {
            return nodes;
        }
        assert!(
            Instant::now() < deadline,
            "nodes {nodes:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lock_is_reused_within_its_lease_then_deleted() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("lease-reuse");
    let lease = Duration::from_millis(300);
    let node = leased_manager(&zk, &root, lease).await;
    let first = node.acquire("t", SESSION).await.unwrap();
    let held = nodes_become(&zk, &root, "t", 1).await;
    drop(first);
    // Reacquired at once, on the same znode: no create, no delete.
    for _ in 0..5 {
        let again = node.acquire("t", Duration::from_millis(1)).await.unwrap();
        assert!(again.is_held());
        assert_eq!(lock_nodes(&zk, &root, "t").await, held);
        drop(again);
    }
    // Unused, the lease ends and the znode goes.
    tokio::time::sleep(lease).await;
    nodes_become(&zk, &root, "t", 0).await;
    // A lease off: the znode goes at release.
    let plain = leased_manager(&zk, &root, Duration::ZERO).await;
    drop(plain.acquire("t", SESSION).await.unwrap());
    nodes_become(&zk, &root, "t", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_never_waits_for_a_lease() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("lease-fair");
    // Leases far longer than any wait the test allows.
    let long = Duration::from_secs(30);
    let (a, b) = (
        leased_manager(&zk, &root, long).await,
        leased_manager(&zk, &root, long).await,
    );

    // An idle lease ends as soon as another node asks.
    drop(a.acquire("t", SESSION).await.unwrap());
    nodes_become(&zk, &root, "t", 1).await;
    let asked = Instant::now();
    let b_holds = b.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );

    // A holder with a waiter hands over at release instead of keeping a lease, and does
    // not take the lock back from its own lease meanwhile.
    let a_waits = tokio::spawn({
        let a = a.clone();
        async move {
            let guard = a.acquire("t", Duration::from_secs(10)).await.unwrap();
            (Instant::now(), guard)
        }
    });
    nodes_become(&zk, &root, "t", 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!a_waits.is_finished(), "a took the lock b holds");
    let released = Instant::now();
    drop(b_holds);
    let (a_got, a_holds) = a_waits.await.unwrap();
    assert!(a_got.duration_since(released) < Duration::from_secs(2));
    // b now waits behind a's hold, and gets the lock when a lets go, not after a's lease.
    let b_waits = tokio::spawn({
        let b = b.clone();
        async move {
            b.acquire("t", Duration::from_secs(10))
                .await
                .map(|_| Instant::now())
        }
    });
    nodes_become(&zk, &root, "t", 2).await;
    let released = Instant::now();
    drop(a_holds);
    let b_got = b_waits.await.unwrap().unwrap();
    assert!(b_got.duration_since(released) < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leased_lock_goes_with_its_session() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("lease-session");
    let long = Duration::from_secs(30);
    let (a, b) = (
        leased_manager(&zk, &root, long).await,
        leased_manager(&zk, &root, long).await,
    );
    drop(a.acquire("t", SESSION).await.unwrap());
    nodes_become(&zk, &root, "t", 1).await;
    // The node dies holding a lease: its znode goes with its session.
    a.close();
    nodes_become(&zk, &root, "t", 0).await;
    let guard = b.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(guard.is_held());
    // A lease is never reused after its session was lost.
    assert!(a.acquire("t", Duration::from_millis(200)).await.is_err());
}
