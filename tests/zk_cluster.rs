//! Several `floe serve` nodes on one warehouse and one ZooKeeper root: concurrent appends
//! through all of them are serialized into one linear history, nothing lost or doubled,
//! and a commit through any node builds on every commit acknowledged before it.
//!
//! Needs `FLOE_TEST_ZK` (standalone server) and `FLOE_TEST_ZK_ENSEMBLE` (3 members), set by
//! scripts/test.sh; each test uses its own `--zk-root`, so they share the servers.

use std::time::{Duration, Instant};

use floe_test_support::cluster::{create_append_table, Batch, Cluster};
use floe_test_support::scan::rest_catalog;
use floe_test_support::table_checks::{assert_pointer_sound, verify_acks};
use floe_test_support::zk::zk_env;
use floe_test_support::{table_path, Http};
use iceberg::Catalog;
use serde_json::{json, Value};

/// `writers` clients, each committing `per_writer` one-row appends to one table, rotating
/// over the nodes; then the table must hold each of the `writers * per_writer` rows once,
/// in as many snapshots, one after the other.
async fn contention(connect: &str, nodes: usize, writers: usize, per_writer: usize) {
    let cluster = Cluster::start(connect, nodes, &[]);
    let setup = rest_catalog(cluster.nodes[0].url()).await;
    let table = create_append_table(&setup, "events").await;
    let batch = Batch::new(cluster.urls(), table.identifier(), writers, per_writer);
    let result = batch.run().await;
    let acks = &result.acks;
    let stats = &result.stats;
    assert_eq!(
        stats.unknown, 0,
        "no commit may end in an unknown state: {stats:?}"
    );
    assert_eq!(
        stats.unreachable, 0,
        "every node serves every request: {stats:?}"
    );
    assert!(acks.iter().all(|a| a.snapshot_id.is_some()));
    for node in 0..nodes {
        let through = acks.iter().filter(|a| a.node == node).count();
        assert!(through > 0, "node {node} acknowledged no commit");
    }

    let last = setup.load_table(table.identifier()).await.unwrap();
    verify_acks(&last, acks).await;
    let location = last.metadata_location().unwrap().to_string();
    for i in 0..nodes {
        let served = eventually_at(&cluster.http(i), "events", &location).await;
        assert_eq!(served, location, "node {i} serves the last commit");
    }
}

/// The metadata location `http` serves for `ns.table`, polled for up to 2 s until it is
/// `want` (a node may read from a ZooKeeper follower that is a moment behind).
async fn eventually_at(http: &Http, table: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let at = http.metadata_location(&["ns"], table).await;
        if at == want || Instant::now() > deadline {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// 3 nodes on the 3-member ensemble, 8 clients x 25 appends to one table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_through_three_nodes_on_the_ensemble() {
    let Some(connect) = zk_env("FLOE_TEST_ZK_ENSEMBLE") else {
        return;
    };
    contention(&connect, 3, 8, 25).await;
}

/// 2 nodes on the standalone server, 4 clients x 10 appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_through_two_nodes_on_a_standalone_server() {
    let Some(connect) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    contention(&connect, 2, 4, 10).await;
}

/// The requirements of a commit built on `prev` (a LoadTableResult metadata): same table,
/// same current schema, same last column id. Any commit made since breaks them.
fn requirements_from(prev: &Value) -> Value {
    json!([
        {"type": "assert-table-uuid", "uuid": prev["table-uuid"]},
        {"type": "assert-current-schema-id", "current-schema-id": prev["current-schema-id"]},
        {"type": "assert-last-assigned-field-id", "last-assigned-field-id": prev["last-column-id"]},
    ])
}

/// Adds column `c<step>` to the current schema of `prev`, makes it current and records the
/// step as a property.
fn updates_from(prev: &Value, step: usize, node: usize) -> Value {
    let current = prev["current-schema-id"].as_i64().unwrap();
    let schema = prev["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["schema-id"] == current)
        .expect("current schema");
    let last = prev["last-column-id"].as_i64().unwrap();
    let mut fields = schema["fields"].as_array().unwrap().clone();
    fields.push(
        json!({"id": last + 1, "name": format!("c{step}"), "type": "long", "required": false}),
    );
    json!([
        {"action": "add-schema", "schema": {"type": "struct", "schema-id": current + 1, "fields": fields}},
        {"action": "set-current-schema", "schema-id": -1},
        {"action": "set-properties", "updates": {format!("step-{step:03}"): node.to_string()}},
    ])
}

/// Commits alternate over the nodes, each built on the previous answer (whichever node
/// gave it) with requirements that any missed commit would break: every one must succeed
/// and carry all earlier steps. Loads through the other nodes right after a commit are
/// counted when they still show the state before it.
#[tokio::test]
async fn a_commit_through_any_node_builds_on_every_acknowledged_commit() {
    let Some(connect) = zk_env("FLOE_TEST_ZK_ENSEMBLE") else {
        return;
    };
    const STEPS: usize = 30;
    let cluster = Cluster::start(&connect, 3, &[]);
    let https: Vec<Http> = (0..3).map(|i| cluster.http(i)).collect();
    https[0].create_namespace(&["ns"], json!({})).await;
    let created = https[0].create_table(&["ns"], "t").await;
    let path = table_path(&["ns"], "t");

    let mut prev_md = created["metadata"].clone();
    let mut prev_location = created["metadata-location"].as_str().unwrap().to_string();
    let (mut stale_loads, mut loads) = (0, 0);
    let started = Instant::now();
    for step in 0..STEPS {
        let node = step % 3;
        let body = json!({
            "requirements": requirements_from(&prev_md),
            "updates": updates_from(&prev_md, step, node),
        });
        let resp = https[node].post(&path, &body).await;
        assert_eq!(
            resp.status.as_u16(),
            200,
            "step {step} through node {node} did not build on the commit before: {}",
            resp.text
        );
        let md = &resp.body["metadata"];
        let location = resp.body["metadata-location"].as_str().unwrap().to_string();
        assert_ne!(location, prev_location);
        let logged = md["metadata-log"].as_array().unwrap();
        assert_eq!(
            logged.last().unwrap()["metadata-file"],
            prev_location.as_str(),
            "step {step} was applied to the previous metadata file"
        );
        assert_eq!(
            md["last-column-id"],
            prev_md["last-column-id"].as_i64().unwrap() + 1
        );
        assert_eq!(md["schemas"].as_array().unwrap().len(), step + 2);
        let props = md["properties"].as_object().unwrap();
        for earlier in 0..=step {
            let key = format!("step-{earlier:03}");
            assert_eq!(props[&key], (earlier % 3).to_string(), "step {step}: {key}");
        }
        for other in (0..3).filter(|&o| o != node) {
            loads += 1;
            if https[other].metadata_location(&["ns"], "t").await != location {
                stale_loads += 1;
            }
        }
        prev_md = md.clone();
        prev_location = location;
    }
    println!(
        "{STEPS} alternating commits in {:.2?}; {stale_loads} of {loads} loads through another \
         node right after a commit still showed the state before it",
        started.elapsed()
    );
    for http in &https {
        let served = eventually_at(http, "t", &prev_location).await;
        assert_eq!(
            served, prev_location,
            "{} serves the last commit",
            http.base
        );
        assert_pointer_sound(http, "t").await;
    }
}
