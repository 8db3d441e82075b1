//! Failures under load in a ZooKeeper cluster of `floe serve` nodes: a node killed with
//! SIGKILL while commits run (its locks, held, leased or queued for, must expire with its
//! session, and the others carry on; no lock node is left), and a ZooKeeper member (the leader) stopped while commits run. Afterwards
//! every acknowledged append is in the table exactly once, the history is one line and
//! every metadata file the pointer and its log name exists and parses.
//!
//! Needs `FLOE_TEST_ZK_ENSEMBLE` and `FLOE_TEST_ZK_ENSEMBLE_DIR` (scripts/test.sh). The two
//! tests take turns: one stops an ensemble member that the other relies on.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use floe_test_support::cluster::{create_append_table, Ack, Batch, Cluster, Writer};
use floe_test_support::scan::rest_catalog;
use floe_test_support::table_checks::{assert_pointer_sound, verify_acks};
use floe_test_support::zk::{assert_no_commit_lock_left, zk_env, zk_mode, StoppedMember};
use floe_test_support::{table_path, Http, Resp};
use iceberg::table::Table;
use iceberg::Catalog;
use reqwest::Method;
use serde_json::json;
use tokio::task::JoinHandle;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The session timeout of the killed node: how long its locks outlive it.
const SESSION_TIMEOUT_MS: u64 = 4000;
/// The default lock wait of `floe serve` (`lock-timeout-secs`).
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// Commits sent to node 1 just before it is killed.
const VICTIMS: usize = 6;

/// Loads the table through node 0 and checks it against every acknowledged append; then
/// each of `nodes` serves the same pointer, sound on disk.
async fn verify_cluster(cluster: &Cluster, nodes: &[usize], table: &Table, acks: &[Ack]) {
    let catalog = rest_catalog(cluster.nodes[nodes[0]].url()).await;
    let last = catalog.load_table(table.identifier()).await.unwrap();
    verify_acks(&last, acks).await;
    let want = last.metadata_location().unwrap();
    for &i in nodes {
        let deadline = Instant::now() + Duration::from_secs(2);
        let served = loop {
            let at = assert_pointer_sound(&cluster.http(i), "events").await;
            if at == want || Instant::now() > deadline {
                break at;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(served, want, "node {i} serves the last commit");
    }
}

/// Sends a requirement-free commit setting `victim-<k>` to `url` in the background.
fn send_property_commit(url: &str, k: usize) -> JoinHandle<Result<Resp, reqwest::Error>> {
    let http = Http::unpooled(url);
    let updates = json!([{"action": "set-properties", "updates": {format!("victim-{k}"): "1"}}]);
    let body = json!({"requirements": [], "updates": updates}).to_string();
    let path = table_path(&["ns"], "events");
    tokio::spawn(async move {
        http.try_send(Method::POST, &path, Some(body.into_bytes()))
            .await
    })
}

/// One append through `node` only; returns how long it took.
async fn append_through(cluster: &Cluster, table: &Table, node: usize, id: i64) -> (Ack, Duration) {
    let mut writer = Writer::new(99, &cluster.urls(), table.identifier(), node).await;
    writer.rotate = false;
    writer.append_timeout = LOCK_TIMEOUT;
    let ack = writer.append(id, &format!("extra-{node}-{id}")).await;
    assert_eq!(ack.node, node, "node {node} took the commit itself");
    assert_eq!(
        writer.stats.unreachable + writer.stats.unknown,
        0,
        "{:?}",
        writer.stats
    );
    let took = ack.acked - ack.started;
    (ack, took)
}

/// 3 nodes, 6 clients rotating over them; node 1 is killed with SIGKILL after 15 acks.
/// The dead node's session (4 s) may hold the table lock or a place in its queue: the
/// others wait for it to expire, well within the 30 s lock wait, and go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_commits_leaves_a_consistent_table() {
    let Some(connect) = zk_env("FLOE_TEST_ZK_ENSEMBLE") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let session = SESSION_TIMEOUT_MS.to_string();
    let mut cluster = Cluster::start(&connect, 3, &["--zk-session-timeout-ms", &session]);
    let setup = rest_catalog(cluster.nodes[0].url()).await;
    let table = create_append_table(&setup, "events").await;

    let mut batch = Batch::new(cluster.urls(), table.identifier(), 6, 10);
    batch.append_timeout = LOCK_TIMEOUT + Duration::from_secs(15);
    let running = batch.spawn();
    batch.wait_acked(15).await;
    // Queue commits on node 1 right before the kill, so its dead session surely holds a
    // place in the table's lock queue (or the lock itself).
    let victims: Vec<_> = (0..VICTIMS)
        .map(|k| send_property_commit(cluster.nodes[1].url(), k))
        .collect();
    tokio::time::sleep(Duration::from_millis(40)).await;
    let before_kill = batch.acked.load(Ordering::SeqCst);
    cluster.nodes[1].kill9();
    let killed_at = Instant::now();
    let mut answered = 0;
    for v in victims {
        if let Ok(resp) = v.await.unwrap() {
            assert!(resp.status == 200 || resp.status == 409, "{}", resp.text);
            answered += 1;
        }
    }
    let result = running.await.expect("the writers go on after the kill");
    result.print(&batch);
    let acks = result.acks;

    let through_1: Vec<&Ack> = acks.iter().filter(|a| a.node == 1).collect();
    assert!(
        !through_1.is_empty(),
        "node 1 acknowledged commits before it died"
    );
    assert!(
        through_1.iter().all(|a| a.acked <= killed_at),
        "no ack after its death"
    );
    let after: Vec<&Ack> = acks.iter().filter(|a| a.acked > killed_at).collect();
    assert!(!after.is_empty(), "the writers went on");
    let mut times: Vec<Instant> = after.iter().map(|a| a.acked).collect();
    times.sort();
    times.insert(0, killed_at);
    let stall = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    let longest = after.iter().map(|a| a.acked - a.started).max().unwrap();
    println!(
        "killed node 1 after {before_kill} acks, {answered} of {VICTIMS} commits queued on it \
         answered; first ack after the kill {:.2?} later; longest pause between acks after \
         the kill {stall:.2?}; longest append after the kill {longest:.2?}; session timeout \
         {SESSION_TIMEOUT_MS} ms, lock wait {LOCK_TIMEOUT:?}",
        times[1] - killed_at
    );
    assert!(
        longest < LOCK_TIMEOUT,
        "the survivors commit within the lock wait"
    );

    // The survivors keep serving: one more append through each, within the lock wait.
    let mut all = acks.clone();
    for (node, id) in [(0, 900_000), (2, 900_001)] {
        let (ack, took) = append_through(&cluster, &table, node, id).await;
        println!("append through node {node} after the kill: {took:.2?}");
        all.push(ack);
    }
    verify_cluster(&cluster, &[0, 2], &table, &all).await;
    // The dead node's lock (held, leased or queued) went with its session; the survivors'
    // leases end.
    let uuid = table.metadata().uuid().to_string();
    assert_no_commit_lock_left(&connect, &cluster.root, &uuid).await;
}

/// Members of the ensemble in `zookeeper.sh` order (member i is entry i - 1).
fn members(connect: &str) -> Vec<String> {
    connect.split(',').map(str::to_string).collect()
}

/// Waits until every member answers `srvr` with exactly one leader; returns the modes.
async fn ensemble_whole(connect: &str, within: Duration) -> Vec<Option<String>> {
    let deadline = Instant::now() + within;
    loop {
        let modes: Vec<Option<String>> = members(connect).iter().map(|m| zk_mode(m)).collect();
        let leaders = modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        if (modes.iter().all(Option::is_some) && leaders == 1) || Instant::now() > deadline {
            return modes;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 2 nodes, 4 clients; the ZooKeeper leader is killed (SIGKILL) while they commit, and started again
/// at the end (always: the guard restarts it when the test fails).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_the_loss_of_the_zookeeper_leader() {
    let (Some(connect), Some(dir)) = (
        zk_env("FLOE_TEST_ZK_ENSEMBLE"),
        zk_env("FLOE_TEST_ZK_ENSEMBLE_DIR"),
    ) else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let modes = ensemble_whole(&connect, Duration::from_secs(30)).await;
    let leader = modes.iter().position(|m| m.as_deref() == Some("leader"));
    let member = leader.map_or(1, |i| i + 1);
    println!("ensemble modes {modes:?}: stopping member {member}");
    assert_eq!(modes.len(), 3, "a 3-member ensemble");

    let cluster = Cluster::start(&connect, 2, &[]);
    let setup = rest_catalog(cluster.nodes[0].url()).await;
    let table = create_append_table(&setup, "events").await;
    let mut batch = Batch::new(cluster.urls(), table.identifier(), 4, 10);
    batch.append_timeout = Duration::from_secs(45);
    let running = batch.spawn();
    batch.wait_acked(4).await;
    let dir = PathBuf::from(dir);
    let stop_dir = dir.clone();
    let mut stopped = tokio::task::spawn_blocking(move || StoppedMember::stop(&stop_dir, member))
        .await
        .expect("stop the member");
    let stopped_at = Instant::now();
    let during = running.await.expect("the writers go on without the member");
    during.print(&batch);
    let remaining: Vec<Option<String>> = members(&connect)
        .iter()
        .enumerate()
        .filter(|(i, _)| i + 1 != member)
        .map(|(_, m)| zk_mode(m))
        .collect();
    let after: Vec<&Ack> = during
        .acks
        .iter()
        .filter(|a| a.acked > stopped_at)
        .collect();
    let longest = after.iter().map(|a| a.acked - a.started).max();
    println!(
        "{} appends acknowledged after member {member} stopped (longest {longest:.2?}); \
         the other members: {remaining:?}",
        after.len()
    );
    assert!(
        !after.is_empty(),
        "commits went on after the member stopped"
    );
    assert!(
        remaining.iter().all(Option::is_some),
        "the other two members serve: {remaining:?}"
    );

    // Whole again: the member rejoins, and commits through both nodes go on.
    stopped = tokio::task::spawn_blocking(move || {
        stopped.restart();
        stopped
    })
    .await
    .expect("restart the member");
    drop(stopped);
    let modes = ensemble_whole(&connect, Duration::from_secs(30)).await;
    println!("after the restart: {modes:?}");
    assert!(
        modes.iter().all(Option::is_some),
        "every member serves: {modes:?}"
    );
    assert_eq!(
        modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count(),
        1,
        "one leader: {modes:?}"
    );
    batch.round = 1;
    batch.per_writer = 2;
    let whole = batch.run().await;
    let mut all = during.acks;
    all.extend(whole.acks);
    verify_cluster(&cluster, &[0, 1], &table, &all).await;
}
