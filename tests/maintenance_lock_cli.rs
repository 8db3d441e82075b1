//! `floe compact` and `floe convert-deletes` with `--zookeeper` take the table's
//! maintenance lock, the one `floe serve`'s schedules take: while another run holds it they
//! refuse, saying so, and change nothing; once it is free they run, and release it before
//! they exit.

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
    let lock_args = [
        "--zookeeper",
        zk.as_str(),
        "--zk-root",
        root.as_str(),
        "--lock-wait-secs",
        "1",
    ];
    let commands: [&[&str]; 2] = [
        &["compact", "--option", "min-input-files=1"],
        &["convert-deletes"],
    ];
    let run = |command: &[&str]| {
        let mut args = command.to_vec();
        args.extend(["--catalog", url.as_str(), "--table", "ns.locked"]);
        args.extend(lock_args);
        floe(&args)
    };
    for command in commands {
        let refused = run(command);
        assert!(
            !refused.status.success(),
            "{command:?} ran under another run's lock"
        );
        assert!(
            refused
                .error_line()
                .contains("is being maintained by another run"),
            "{command:?}: {}",
            refused.stderr
        );
        let now = client.load_table(&ident).await.unwrap();
        assert_eq!(
            now.metadata_location, before.metadata_location,
            "{command:?}"
        );
    }

    // Free again: both run, one right after the other (so each releases its lock before
    // it exits, rather than leaving it to its session's expiry).
    held.release().await;
    for command in [commands[1], commands[0]] {
        run(command).succeeded(&format!("{command:?} with the lock free"));
    }
    let after = client.load_table(&ident).await.unwrap();
    assert_ne!(after.metadata_location, before.metadata_location);
}
