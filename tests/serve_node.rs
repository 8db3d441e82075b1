//! How one `floe serve` node wires its parts, seen from outside the process: scheduled
//! compaction reaches the node's catalog in process, so it works whatever address the
//! node listens on (here 127.0.0.2, where nothing answers on 127.0.0.1); and with
//! ZooKeeper the node holds exactly one session (one TCP connection) for its catalog
//! store, its commit locks and its compaction locks.
//!
//! The ZooKeeper test needs `FLOE_TEST_ZK` (scripts/test.sh sets it) and is skipped
//! without it.

use std::time::{Duration, Instant};

use floe_test_support::upsert_cli::{assert_rows_eq, base_table, current_summary, scan_rows};
use floe_test_support::zk::{zk_env, zookeeper_connections};
use floe_test_support::{metric_sample, FloeServer, Http, Serve};
use serde_json::json;

/// How long a compaction may take to land after the table asks for one.
const COMPACTION_WITHIN: Duration = Duration::from_secs(60);

/// Writes the base upsert table `ns.t` through the node (two checkpoints of `floe
/// upsert`, which leave equality deletes), lets every data file be compacted, and waits
/// until a scheduled compaction folded every delete away, calling `each_poll` on every
/// look. Then the rows must be those the checkpoints wrote.
async fn upserts_then_scheduled_compaction(server: &FloeServer, mut each_poll: impl FnMut()) {
    let (url, http) = (server.url(), Http::new(server.url()));
    let model = base_table(url);
    let before = current_summary(&http, "ns.t").await;
    assert_ne!(before["total-delete-files"], "0", "{before}");
    http.set_properties(
        &["ns"],
        "t",
        json!({"floe.compaction.min-input-files": "1"}),
    )
    .await
    .ok();
    let deadline = Instant::now() + COMPACTION_WITHIN;
    loop {
        each_poll();
        let now = current_summary(&http, "ns.t").await;
        if now["floe.operation"] == "compaction" && now["total-delete-files"] == "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled compaction within {COMPACTION_WITHIN:?}: {now}\nlog:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_rows_eq(
        &scan_rows(url, "ns.t").await,
        &model,
        "compacted on schedule",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_compaction_works_on_another_loopback_address() {
    let dirs = tempfile::tempdir().unwrap();
    let server = Serve::new(dirs.path().join("warehouse"), &dirs.path().join("data"))
        .bind("127.0.0.2:0")
        .args(&["--compaction-interval", "1s"])
        .start();
    assert!(
        server.url().starts_with("http://127.0.0.2:"),
        "{}",
        server.url()
    );
    upserts_then_scheduled_compaction(&server, || {}).await;

    // Every scheduled run succeeded; the compaction's groups committed.
    let metrics = Http::new(server.url()).get("/metrics").await.text;
    let runs = |outcome: &str| {
        metric_sample(
            &metrics,
            &format!("floe_compaction_runs_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert!(runs("ok").is_some_and(|n| n >= 1.0), "{metrics}");
    assert_eq!(runs("failed"), None, "a scheduled run failed:\n{metrics}");
    let committed = metric_sample(
        &metrics,
        "floe_compaction_groups_total{outcome=\"committed\"}",
    );
    assert!(committed.is_some_and(|n| n >= 1.0), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_holds_one_zookeeper_session() {
    let Some(zk) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let root = format!("/one-session-{}", uuid::Uuid::new_v4().simple());
    let server = Serve::new(dirs.path().join("warehouse"), &dirs.path().join("data"))
        .args(&[
            "--zookeeper",
            zk.as_str(),
            "--zk-root",
            root.as_str(),
            "--compaction-interval",
            "1s",
        ])
        .start();
    let pid = server.pid();
    assert_eq!(zookeeper_connections(pid, &zk), 1, "once started");
    // Commits (the store and the commit locks) and scheduled compactions (the
    // compaction locks): one connection all along.
    let mut looks = 0;
    upserts_then_scheduled_compaction(&server, || {
        looks += 1;
        let connections = zookeeper_connections(pid, &zk);
        assert_eq!(connections, 1, "connections from floe to ZooKeeper ({zk})");
    })
    .await;
    assert!(
        server.log_text().contains("compaction finished"),
        "a scheduled compaction ran under its lock"
    );
    assert_eq!(zookeeper_connections(pid, &zk), 1, "after {looks} looks");
}
