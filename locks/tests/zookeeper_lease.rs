//! Commit-lock leases against a real ZooKeeper (`FLOE_TEST_ZK`; the test prints `SKIP`
//! and passes only when it is unset): a released lock is kept and reused by its node
//! without a new znode, ends after its lease, and keeps another node waiting at most one
//! lease; a leased lock is lost with its session.

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
async fn another_node_waits_at_most_one_lease() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("lease-fair");
    let lease = Duration::from_millis(400);
    // What a wait may take beyond the lease: a few ZooKeeper round trips.
    let margin = Duration::from_secs(1);
    let (a, b) = (
        leased_manager(&zk, &root, lease).await,
        leased_manager(&zk, &root, lease).await,
    );

    // An idle lease ends within one lease of another node asking.
    drop(a.acquire("t", SESSION).await.unwrap());
    nodes_become(&zk, &root, "t", 1).await;
    let asked = Instant::now();
    let b_holds = b.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(asked.elapsed() < lease + margin, "{:?}", asked.elapsed());

    // While a waits, b goes on reusing its lock for one lease at most, then hands over.
    let a_waits = tokio::spawn({
        let a = a.clone();
        async move {
            let guard = a.acquire("t", Duration::from_secs(10)).await.unwrap();
            (Instant::now(), guard)
        }
    });
    nodes_become(&zk, &root, "t", 2).await;
    let asked = Instant::now();
    drop(b_holds);
    let mut reused = 0;
    while let Ok(again) = b.acquire("t", Duration::from_millis(50)).await {
        assert!(
            asked.elapsed() < lease + margin,
            "b kept the lock past its lease"
        );
        reused += 1;
        drop(again);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (a_got, a_holds) = a_waits.await.unwrap();
    assert!(reused > 0, "b reused its lock within the lease");
    assert!(a_got.duration_since(asked) < lease + margin);
    assert!(a_holds.is_held());
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
