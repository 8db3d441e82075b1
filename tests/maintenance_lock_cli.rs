//! `floe convert-deletes` with `--zookeeper` takes the table's maintenance lock, the one
//! `floe serve`'s schedules take: while another run holds it, it refuses, saying so, and
//! changes nothing; once it is free it runs, and releases it before it exits. `floe
//! compact --zookeeper` takes no maintenance lock (it compacts together with the others,
//! claiming groups: `compaction_together.rs`), so it runs under that lock.

use std::time::Duration;

use floe::maintenance_lock::{lock_key, lock_root};
use floe_client::RestClient;
use floe_locks::{LockManager, ZooKeeperLockManager, ZooKeeperSession};
use floe_test_support::cli::floe;
use floe_test_support::upsert_model::*;
use floe_test_support::zk::zk_env;
use floe_test_support::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_commands_wait_for_the_tables_maintenance_lock() {
    let Some(zk) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    let env = TestEnv::start();
    let url = env.server.url().to_string();
    let client = RestClient::connect(&url).await.unwrap();
    let ident = create_table(&client, "locked", 2).await;
    write_checkpoints(&client, &ident, 5, 4, (200, 150)).await;
    let before = client.load_table(&ident).await.unwrap();

    // Another run holds the lock.
    let root = format!("/lock-cli-{}", std::process::id());
    let session = ZooKeeperSession::connect(&zk, Duration::from_secs(10))
        .await
        .unwrap();
    let locks = ZooKeeperLockManager::new(session, &lock_root(&root))
        .await
        .unwrap();
    let held = locks
        .acquire(&lock_key(&before.metadata), Duration::from_secs(5))
        .await
        .unwrap();
    let zk_args = ["--zookeeper", zk.as_str(), "--zk-root", root.as_str()];
    let run = |command: &[&str]| {
        let mut args = command.to_vec();
        args.extend(["--catalog", url.as_str(), "--table", "ns.locked"]);
        args.extend(zk_args);
        floe(&args)
    };
    let convert: &[&str] = &["convert-deletes", "--lock-wait-secs", "1"];
    let refused = run(convert);
    assert!(!refused.status.success(), "ran under another run's lock");
    assert!(
        refused
            .error_line()
            .contains("is being maintained by another run"),
        "{}",
        refused.stderr
    );
    let now = client.load_table(&ident).await.unwrap();
    assert_eq!(now.metadata_location, before.metadata_location);

    // Compaction takes no maintenance lock.
    run(&["compact", "--option", "min-input-files=1"]).succeeded("compact under the lock");
    let compacted = client.load_table(&ident).await.unwrap();
    assert_ne!(compacted.metadata_location, before.metadata_location);

    // Free again: the conversion runs twice, one right after the other (so it releases its
    // lock before it exits, rather than leaving it to its session's expiry).
    held.release().await;
    run(convert).succeeded("convert-deletes with the lock free");
    run(convert).succeeded("convert-deletes right after");
}
