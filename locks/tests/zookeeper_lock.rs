//! The ZooKeeper lock against a real server: `FLOE_TEST_ZK` is a standalone server's connect
//! string and `FLOE_TEST_ZK_ENSEMBLE` a 3-member ensemble's (`scripts/zookeeper.sh start`).
//! A test prints `SKIP: ... not set` and passes only when its variable is unset.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    connections, eventually, lock_nodes, lock_sessions, manager, node_session, server, unique_root,
    Proxy, SESSION,
};
use floe_locks::{LockError, LockManager, ZooKeeperLockManager, ZooKeeperSession};

async fn mutual_exclusion(connect: &str, test: &str) {
    let root = unique_root(test);
    let managers = [
        manager(connect, &root, SESSION).await,
        manager(connect, &root, SESSION).await,
        manager(connect, &root, SESSION).await,
    ];
    let inside = Arc::new(AtomicUsize::new(0));
    let overlapped = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..24 {
        let locks = managers[i % 3].clone();
        let (inside, overlapped, entered) = (inside.clone(), overlapped.clone(), entered.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..2 {
                let guard = locks
                    .acquire("table", Duration::from_secs(60))
                    .await
                    .unwrap();
                if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                    overlapped.store(true, Ordering::SeqCst);
                }
                entered.fetch_add(1, Ordering::SeqCst);
                assert!(guard.is_held());
                assert_eq!(guard.key(), "table");
                tokio::time::sleep(Duration::from_millis(3)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                drop(guard);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        !overlapped.load(Ordering::SeqCst),
        "two holders were inside at once"
    );
    assert_eq!(entered.load(Ordering::SeqCst), 48);
    // Every release deletes its node (in the background).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lock_nodes(connect, &root, "table").await.is_empty() {
        assert!(Instant::now() < deadline, "lock nodes left behind");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutual_exclusion_across_three_sessions() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    mutual_exclusion(&zk, "mutex").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutual_exclusion_on_a_three_member_ensemble() {
    let Some(zk) = server("FLOE_TEST_ZK_ENSEMBLE") else {
        return;
    };
    mutual_exclusion(&zk, "mutex-ensemble").await;
}

#[tokio::test]
async fn timeout_answers_timeout_and_leaves_no_node() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("timeout");
    let (a, b) = (
        manager(&zk, &root, SESSION).await,
        manager(&zk, &root, SESSION).await,
    );
    let held = a.acquire("t", Duration::from_secs(5)).await.unwrap();
    let started = Instant::now();
    let err = b
        .acquire("t", Duration::from_millis(400))
        .await
        .err()
        .expect("the lock is held elsewhere");
    let waited = started.elapsed();
    assert!(
        matches!(err, LockError::Timeout { ref key, .. } if key == "t"),
        "{err:?}"
    );
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // Only the holder's node is left, right when acquire returns.
    assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 1);
    // Another key is independent, and the lock is free again after the holder lets go.
    b.acquire("u", Duration::from_secs(2)).await.unwrap();
    drop(held);
    let again = b.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(again.is_held());
}

#[tokio::test]
async fn closing_the_holders_session_frees_the_lock_and_fences_it() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("close");
    let (a, b) = (
        manager(&zk, &root, SESSION).await,
        manager(&zk, &root, SESSION).await,
    );
    let held = a.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(held.is_held());
    let waiter = tokio::spawn(async move {
        let guard = b.acquire("t", Duration::from_secs(30)).await;
        (guard, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the waiter got a held lock");

    // The holder's session ends while its guard is still alive (not released).
    let closed_at = Instant::now();
    a.close();
    assert!(!held.is_held(), "a guard of a closed session is not held");
    let (guard, granted_at) = waiter.await.unwrap();
    let guard = guard.expect("the waiter gets the lock once the holder's session ends");
    assert!(guard.is_held());
    assert!(
        granted_at - closed_at < SESSION,
        "{:?}",
        granted_at - closed_at
    );
    assert!(matches!(
        a.acquire("t", Duration::from_millis(100)).await.err(),
        Some(LockError::Unavailable(_))
    ));
    drop(held); // a no-op: the session took its node with it
    assert!(guard.is_held());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_session_fences_the_guard_and_expiry_frees_the_lock() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("expiry");
    let first_server = zk.split(',').next().unwrap().to_string();
    let proxy = Proxy::start(first_server).await;
    let short = Duration::from_secs(2);
    let a = manager(&proxy.addr, &root, short).await;
    let b = manager(&zk, &root, SESSION).await;
    let held = a.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(held.is_held());
    let waiter = tokio::spawn(async move {
        let guard = b.acquire("t", Duration::from_secs(30)).await;
        (guard, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());

    // The holder is cut off: it must stop at once, and the server frees its lock when the
    // session expires (no release ever reaches the server).
    let cut_at = Instant::now();
    proxy.set_cut(true);
    eventually("the guard turns not held", Duration::from_secs(2), || {
        !held.is_held()
    })
    .await;
    let (guard, granted_at) = waiter.await.unwrap();
    let guard = guard.expect("the waiter gets the lock after the holder's session expires");
    let after = granted_at - cut_at;
    println!("expiry freed the lock {after:?} after the cut");
    assert!(
        after >= a.session_timeout() / 2 && after < a.session_timeout() + Duration::from_secs(5),
        "granted {after:?} after the cut, session timeout {:?}",
        a.session_timeout()
    );
    assert!(guard.is_held());

    // Healing the network does not give the old guard its lock back.
    proxy.set_cut(false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!held.is_held());
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_its_session_expires_the_manager_opens_a_new_one() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    renew_after_expiry(&zk, "renew", true).await;
}

/// The network heals while the client still tries to resume its session: the acquires sent
/// on it fail when the server answers "expired", and go on with a new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acquires_caught_in_the_expiry_go_on_with_a_new_session() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    renew_after_expiry(&zk, "renew-caught", false).await;
}

/// Cuts `a`'s session until the server expires it, heals, then checks that `a` takes locks
/// again on one new session, that mutual exclusion with `b` holds, and that the guard taken
/// before stays lost. `client_gave_up`: heal only after the client itself has given up on
/// the session, so the acquires find it ended before they start.
async fn renew_after_expiry(zk: &str, test: &str, client_gave_up: bool) {
    let zk = zk.to_string();
    let root = unique_root(test);
    let first_server = zk.split(',').next().unwrap().to_string();
    let proxy = Proxy::start(first_server).await;
    let short = Duration::from_secs(2);
    let a = manager(&proxy.addr, &root, short).await;
    let b = manager(&zk, &root, SESSION).await;
    let old = a.acquire("t", Duration::from_secs(5)).await.unwrap();
    let old_nodes = lock_nodes(&zk, &root, "t").await;
    assert_eq!(old_nodes.len(), 1);
    let old_session = node_session(&old_nodes[0]);

    // Cut long enough for the server to expire the session: its lock goes to `b`.
    proxy.set_cut(true);
    eventually(
        "the old guard turns not held",
        Duration::from_secs(2),
        || !old.is_held(),
    )
    .await;
    let b_guard = b.acquire("t", Duration::from_secs(30)).await.unwrap();
    if client_gave_up {
        // The client gives up by itself 7/5 of the session timeout after it noticed the cut.
        tokio::time::sleep(a.session_timeout() * 2).await;
    }
    proxy.set_cut(false);

    // Concurrent acquires through the same manager share one new session.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            a.acquire(&format!("k{i}"), Duration::from_secs(20)).await
        }));
    }
    let mut guards = Vec::new();
    for t in tasks {
        guards.push(t.await.unwrap().expect("an acquire on a new session"));
    }
    let mut sessions = Vec::new();
    for i in 0..8 {
        let nodes = lock_nodes(&zk, &root, &format!("k{i}")).await;
        assert_eq!(nodes.len(), 1, "{nodes:?}");
        sessions.push(node_session(&nodes[0]));
    }
    sessions.dedup();
    assert_eq!(sessions.len(), 1, "one new session, not {sessions:?}");
    assert_ne!(sessions[0], old_session, "a new session");
    assert!(guards.iter().all(|g| g.is_held()));

    // Mutual exclusion holds between the new session and `b`, both ways.
    let err = a.acquire("t", Duration::from_millis(500)).await.err();
    assert!(matches!(err, Some(LockError::Timeout { .. })), "{err:?}");
    assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 1);
    let waiter = {
        let a = a.clone();
        tokio::spawn(async move { a.acquire("t", Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "`a` took a lock `b` holds");
    drop(b_guard);
    let renewed = waiter
        .await
        .unwrap()
        .expect("`a` gets the lock after `b` releases");
    assert!(renewed.is_held());
    let nodes = lock_nodes(&zk, &root, "t").await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(node_session(&nodes[0]), sessions[0]);
    let err = b.acquire("t", Duration::from_millis(500)).await.err();
    assert!(matches!(err, Some(LockError::Timeout { .. })), "{err:?}");

    // The old guard stays lost; close() still ends the manager for good.
    assert!(!old.is_held());
    drop(old);
    a.close();
    assert!(!renewed.is_held());
    assert!(guards.iter().all(|g| !g.is_held()));
    let err = a.acquire("u", Duration::from_secs(2)).await.err();
    assert!(matches!(err, Some(LockError::Unavailable(_))), "{err:?}");
}

/// A connection reset right after a create was sent fails the create with an I/O error (not
/// a connection loss) although the node was made, and the session lives on through the
/// reconnection. That node must not keep the lock held for as long as the session lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_cut_off_by_a_connection_reset_leaves_no_lock_behind() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("reset");
    let first_server = zk.split(',').next().unwrap().to_string();
    let proxy = Proxy::start(first_server).await;
    let (a, b) = (
        manager(&proxy.addr, &root, SESSION).await,
        manager(&zk, &root, SESSION).await,
    );
    drop(a.acquire("t", Duration::from_secs(5)).await.unwrap()); // makes the key's directory
                                                                 // Resets after the create (1, create2 15), then after the next listing (8, 12).
    proxy
        .resets
        .lock()
        .unwrap()
        .extend([&[1, 15][..], &[8, 12][..]]);
    match a.acquire("t", Duration::from_secs(10)).await {
        // Found its node after reconnecting: a lock held on the same, live session.
        Ok(guard) => {
            assert!(guard.is_held());
            assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 1);
        }
        Err(e) => println!("the acquire through the reset failed: {e}"),
    }
    assert!(proxy.resets.lock().unwrap().is_empty(), "not reset twice");
    // Whatever the outcome, the lock is free for others within seconds, not never.
    let started = Instant::now();
    let guard = b.acquire("t", Duration::from_secs(10)).await.unwrap();
    assert!(guard.is_held());
    println!(
        "the other manager got the lock after {:?}",
        started.elapsed()
    );
    assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 1);
    // The session survived the reset, and `a` still takes locks on it.
    drop(guard);
    let again = a.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(again.is_held());
}

#[tokio::test]
async fn a_waiter_follows_only_its_predecessor() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("predecessor");
    let (a, b, c) = (
        manager(&zk, &root, SESSION).await,
        manager(&zk, &root, SESSION).await,
        manager(&zk, &root, SESSION).await,
    );
    let first = a.acquire("t", Duration::from_secs(5)).await.unwrap();
    // Second in line: gives up while the first still holds the lock.
    let second = tokio::spawn(async move { b.acquire("t", Duration::from_millis(1500)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Third in line: watches the second's node.
    let third = tokio::spawn(async move {
        let guard = c.acquire("t", Duration::from_secs(30)).await;
        (guard, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 3);

    let err = second.await.unwrap().err().expect("the second times out");
    assert!(matches!(err, LockError::Timeout { .. }), "{err:?}");
    // The second's node is gone, which wakes the third: it must go back to waiting on the
    // first instead of taking the lock.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !third.is_finished(),
        "the third took a lock the first still holds"
    );
    assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 2);
    assert!(first.is_held());

    let released_at = Instant::now();
    drop(first);
    let (guard, granted_at) = third.await.unwrap();
    let guard = guard.expect("the third gets the lock after the first releases");
    assert!(guard.is_held());
    assert!(granted_at - released_at < Duration::from_secs(2));
}

#[tokio::test]
async fn connecting_to_nothing_is_unavailable() {
    // A port nothing listens on (bound, then closed).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let err = ZooKeeperLockManager::connect(
        &format!("127.0.0.1:{port}"),
        "/floe",
        Duration::from_secs(2),
    )
    .await
    .err()
    .expect("no server there");
    assert!(matches!(err, LockError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `<root>/locks` removed while a manager uses it (by hand, say): the next acquire makes it
/// again instead of failing until the session is replaced.
#[tokio::test]
async fn a_removed_locks_directory_is_made_again() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("locks-dir");
    let locks = manager(&zk, &root, SESSION).await;
    drop(locks.acquire("t", Duration::from_secs(5)).await.unwrap());
    let client = zookeeper_client::Client::connect(&zk).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    for path in [format!("{root}/locks/t"), format!("{root}/locks")] {
        // The released node goes in the background: until then the key's directory is full.
        while let Err(e) = client.delete(&path, None).await {
            match e {
                zookeeper_client::Error::NoNode => break,
                e => assert!(Instant::now() < deadline, "deleting {path}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let guard = locks.acquire("t", Duration::from_secs(5)).await.unwrap();
    assert!(guard.is_held());
    assert_eq!(lock_nodes(&zk, &root, "t").await.len(), 1);
}

/// Commit and compaction locks of one node: two managers on different roots over one
/// session. Their locks are apart, each still excludes, and the session's end fences both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_sharing_a_session_lock_apart_and_are_fenced_together() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("shared");
    let compaction_root = format!("{root}/compaction");
    let session = ZooKeeperSession::connect(&zk, SESSION).await.unwrap();
    let commits = ZooKeeperLockManager::new(session.clone(), &root).await;
    let compaction = ZooKeeperLockManager::new(session.clone(), &compaction_root).await;
    let (commits, compaction) = (commits.unwrap(), compaction.unwrap());
    let other = manager(&zk, &root, SESSION).await;

    // One key, two roots: both locks at once, both on the shared session.
    let wait = Duration::from_secs(5);
    let commit = commits.acquire("t", wait).await.unwrap();
    let compact = compaction.acquire("t", wait).await.unwrap();
    assert!(commit.is_held() && compact.is_held());
    let id = format!("{:x}", session.session_id().0);
    for root in [&root, &compaction_root] {
        assert_eq!(lock_sessions(&zk, root, "t").await, [id.as_str()]);
    }
    // Each root still excludes, on the same session as from another one.
    for locks in [&commits, &compaction, &other] {
        let err = locks.acquire("t", Duration::from_millis(300)).await.err();
        assert!(matches!(err, Some(LockError::Timeout { .. })), "{err:?}");
    }

    // The session ends (as any manager's `close()` would end it): both guards are fenced at
    // once, and the commit lock goes to another node.
    session.close();
    assert!(!commit.is_held() && !compact.is_held());
    let taken = other.acquire("t", wait).await.unwrap();
    assert!(taken.is_held());
    for locks in [&commits, &compaction] {
        let err = locks.acquire("u", Duration::from_millis(300)).await.err();
        assert!(matches!(err, Some(LockError::Unavailable(_))), "{err:?}");
        assert_eq!(locks.session_connected().await, Some(false));
    }
    assert!(session.client().await.is_err(), "closed for good");
}

/// The shared session expires: the next users, acquires on either manager and plain
/// requests (what the catalog store sends), all arriving at once, share one new session,
/// opened once on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_shared_session_expires_one_new_session_serves_every_user() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("shared-renew");
    let compaction_root = format!("{root}/compaction");
    let proxy = Proxy::start(zk.split(',').next().unwrap().to_string()).await;
    let session = ZooKeeperSession::connect(&proxy.addr, Duration::from_secs(2)).await;
    let session = session.unwrap();
    let commits = ZooKeeperLockManager::new(session.clone(), &root).await;
    let compaction = ZooKeeperLockManager::new(session.clone(), &compaction_root).await;
    let (commits, compaction) = (Arc::new(commits.unwrap()), Arc::new(compaction.unwrap()));
    let other = manager(&zk, &root, SESSION).await;
    let wait = Duration::from_secs(5);
    let old = [
        commits.acquire("t", wait).await.unwrap(),
        compaction.acquire("t", wait).await.unwrap(),
    ];
    let old_id = session.session_id();

    // Cut until the server has expired the session (another node gets its lock) and the
    // client has given up on it too.
    proxy.set_cut(true);
    let lost = || old.iter().all(|g| !g.is_held());
    eventually("the old guards turn not held", Duration::from_secs(2), lost).await;
    let taken = other.acquire("t", Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(session.timeout() * 2).await;
    proxy.set_cut(false);
    let connections_before = proxy.upstream_ports().len();

    let mut acquires = Vec::new();
    for i in 0..4 {
        for locks in [&commits, &compaction] {
            let (locks, key) = (locks.clone(), format!("k{i}"));
            let acquire = async move { locks.acquire(&key, Duration::from_secs(20)).await };
            acquires.push(tokio::spawn(acquire));
        }
    }
    let mut requests = Vec::new();
    for _ in 0..4 {
        let (session, root) = (session.clone(), root.clone());
        requests.push(tokio::spawn(async move {
            let client = session.client().await.expect("a client on a new session");
            client.list_children(&root).await.expect("a request on it");
            client.session_id()
        }));
    }
    let mut guards = Vec::new();
    for acquire in acquires {
        guards.push(acquire.await.unwrap().expect("an acquire on a new session"));
    }
    let mut ids = Vec::new();
    for request in requests {
        ids.push(format!("{:x}", request.await.unwrap().0));
    }
    for i in 0..4 {
        for root in [&root, &compaction_root] {
            ids.extend(lock_sessions(&zk, root, &format!("k{i}")).await);
        }
    }
    assert_ne!(session.session_id(), old_id, "a new session");
    let new_id = format!("{:x}", session.session_id().0);
    assert_eq!(ids.len(), 12);
    assert!(ids.iter().all(|id| *id == new_id), "{new_id} only: {ids:?}");
    let opened = proxy.upstream_ports().len() - connections_before;
    assert_eq!(opened, 1, "connections opened for the new session");
    assert!(
        guards.iter().all(|g| g.is_held()),
        "the new guards are held"
    );
    assert!(lost(), "the old session's guards stay lost");

    // The new session takes the commit lock back once the other node lets go.
    let err = commits.acquire("t", Duration::from_millis(500)).await.err();
    assert!(matches!(err, Some(LockError::Timeout { .. })), "{err:?}");
    drop(taken);
    let again = commits.acquire("t", wait).await.unwrap();
    assert!(again.is_held());
    assert_eq!(lock_sessions(&zk, &root, "t").await, [new_id]);
}

/// A session and two managers on it make one connection to the server, whatever they do:
/// the proxy in front opens one, and the server's `cons` lists this session once, there.
#[tokio::test]
async fn one_shared_session_is_one_connection() {
    let Some(zk) = server("FLOE_TEST_ZK") else {
        return;
    };
    let root = unique_root("one-connection");
    let first_server = zk.split(',').next().unwrap().to_string();
    let proxy = Proxy::start(first_server.clone()).await;
    let session = ZooKeeperSession::connect(&proxy.addr, SESSION).await;
    let (session, compaction_root) = (session.unwrap(), format!("{root}/compaction"));
    let commits = ZooKeeperLockManager::new(session.clone(), &root).await;
    let compaction = ZooKeeperLockManager::new(session.clone(), &compaction_root).await;
    let (commits, compaction) = (commits.unwrap(), compaction.unwrap());
    let wait = Duration::from_secs(5);
    let _guards = [
        commits.acquire("t", wait).await.unwrap(),
        compaction.acquire("t", wait).await.unwrap(),
    ];
    assert_eq!(compaction.session_connected().await, Some(true));
    let client = session.client().await.unwrap();
    client.list_children(&root).await.unwrap();

    let ports = proxy.upstream_ports();
    assert_eq!(ports.len(), 1, "connections opened: {ports:?}");
    let id = format!("{:x}", session.session_id().0);
    let ours: Vec<_> = (connections(&first_server).await.into_iter())
        .filter(|(port, sid)| *port == ports[0] || *sid == id)
        .collect();
    assert_eq!(ours, [(ports[0], id)], "this session's connections");
}
