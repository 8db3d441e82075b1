//! A process that holds a table lock and is killed with SIGKILL: another process gets the
//! lock within the ZooKeeper session timeout (the lock is an ephemeral node, gone when the
//! dead holder's session expires), never "forever" like a Hive-metastore lock.
//!
//! The holder is this test binary itself, re-run as a child on `lock_holder_child`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use floe_locks::{LockError, LockManager, ZooKeeperLockManager};
use floe_test_support::zk::zk_env;

const SESSION: Duration = Duration::from_millis(3000);
const KEY: &str = "0195f7d2-table-uuid";

#[tokio::test]
#[ignore = "the lock holder; started as a child process by the test below"]
async fn lock_holder_child() {
    let (Ok(connect), Ok(root)) = (
        std::env::var("FLOE_LOCK_CHILD_ZK"),
        std::env::var("FLOE_LOCK_CHILD_ROOT"),
    ) else {
        return;
    };
    let locks = ZooKeeperLockManager::connect(&connect, &root, SESSION)
        .await
        .unwrap();
    let _held = locks.acquire(KEY, Duration::from_secs(10)).await.unwrap();
    println!("LOCK HELD");
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test]
async fn killed_holder_frees_the_lock_within_the_session_timeout() {
    let Some(connect) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    let root = format!("/lock-crash-{}", uuid::Uuid::new_v4().simple());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["lock_holder_child", "--exact", "--ignored", "--nocapture"])
        .env("FLOE_LOCK_CHILD_ZK", &connect)
        .env("FLOE_LOCK_CHILD_ROOT", &root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("LOCK HELD") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!("the child never took the lock");
    }

    let locks = ZooKeeperLockManager::connect(&connect, &root, SESSION)
        .await
        .unwrap();
    let refused = locks.acquire(KEY, Duration::from_millis(500)).await;
    assert!(
        matches!(refused, Err(LockError::Timeout { .. })),
        "the child holds the lock, so this acquire must time out"
    );

    child.kill().unwrap(); // SIGKILL: no release, no session close
    let killed = Instant::now();
    child.wait().unwrap();
    let guard = locks
        .acquire(KEY, SESSION * 4)
        .await
        .expect("the lock is free once the dead holder's session expires");
    let waited = killed.elapsed();
    println!(
        "lock taken {:.2}s after the holder was killed (session timeout {:.1}s)",
        waited.as_secs_f64(),
        SESSION.as_secs_f64()
    );
    assert!(guard.is_held());
    // The server expires sessions on tick boundaries; allow two ticks (0.5 s each) of slack.
    assert!(
        waited <= SESSION + Duration::from_millis(1500),
        "took {waited:?}, more than the session timeout"
    );
}
