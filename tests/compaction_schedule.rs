//! Scheduled compaction (`floe serve --compaction-interval`) with two ZooKeeper-backed
//! nodes compacting the same tables while a third node (no schedule) takes upserts: the
//! nodes compact the tables together (each group rewritten by the node that claims it),
//! and a node killed in the middle of a run leaves no partial commit: the other node
//! compacts the table after the kill, and every table equals the model.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use floe_client::RestClient;
use floe_table::main_ancestry;
use floe_test_support::changes::Rng;
use floe_test_support::cluster::Cluster;
use floe_test_support::upsert_model::*;
use floe_test_support::zk::zk_env;
use floe_test_support::{metric_sample, FloeServer};
use floe_upsert::UpsertWriter;
use serde_json::Value;

const TABLES: usize = 3;

/// One logged compaction event of a node.
#[derive(Clone, Debug)]
struct Event {
    at: chrono::DateTime<chrono::Utc>,
    started: bool,
    table: String,
}

fn events(log: &str) -> Vec<Event> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|v| {
            let message = v["fields"]["message"].as_str()?;
            let started = match message {
                "compaction started" => true,
                "compaction finished" | "compaction failed" => false,
                _ => return None,
            };
            Some(Event {
                at: v["timestamp"].as_str()?.parse().ok()?,
                started,
                table: v["fields"]["table"].as_str()?.to_string(),
            })
        })
        .collect()
}

/// Every node's runs per table as (node, start, end); a run still going has no end.
type Runs = BTreeMap<
    String,
    Vec<(
        usize,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )>,
>;

fn runs(logs: &[String]) -> Runs {
    let mut out: Runs = BTreeMap::new();
    for (node, log) in logs.iter().enumerate() {
        for e in events(log) {
            let list = out.entry(e.table.clone()).or_default();
            if e.started {
                list.push((node, e.at, None));
            } else if let Some(run) = list.iter_mut().rev().find(|r| r.0 == node && r.2.is_none()) {
                run.2 = Some(e.at);
            }
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|r| r.1);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_compact_tables_together_and_survive_a_kill() {
    let Some(zk) = zk_env("FLOE_TEST_ZK") else {
        return;
    };
    let mut cluster = Cluster::start(
        &zk,
        2,
        &[
            "--compaction-interval",
            "1s",
            "--zk-session-timeout-ms",
            "4000",
            "--log-format",
            "json",
        ],
    );
    // The writers' node: same store and warehouse, no schedule.
    let args: Vec<String> = [
        "--zookeeper",
        zk.as_str(),
        "--zk-root",
        cluster.root.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let writer_node = FloeServer::start_with_args(
        &cluster.dirs.path().join("warehouse"),
        &cluster.dirs.path().join("data-writer"),
        &args,
    );
    let client = RestClient::connect(writer_node.url()).await.unwrap();
    let mut tables = Vec::new();
    for t in 0..TABLES {
        let ident = create_table(&client, &format!("t{t}"), 4).await;
        set_properties(
            &client,
            &ident,
            &[
                ("floe.compaction.min-input-files", "2"),
                ("floe.compaction.target-file-size-bytes", "64KiB"),
                ("floe.compaction.max-concurrent-file-group-rewrites", "1"),
            ],
        )
        .await;
        let writer = open_writer(&client, &ident, "w").await;
        tables.push((ident, writer, BTreeMap::new(), Rng(100 + t as u64)));
    }

    // Upserts keep coming while both nodes compact; one node is killed mid-run.
    let started = Instant::now();
    let mut checkpoint = 0i64;
    let mut killed: Option<(usize, String, chrono::DateTime<chrono::Utc>)> = None;
    while started.elapsed() < Duration::from_secs(40) {
        checkpoint += 1;
        for (_, writer, model, rng) in tables.iter_mut() {
            write_checkpoint(writer, model, rng, checkpoint).await;
        }
        // A checkpoint every ~0.3 s per table.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if killed.is_none() && started.elapsed() > Duration::from_secs(8) {
            // Kill the first node seen in the middle of a run.
            let logs: Vec<String> = cluster.nodes.iter().map(|n| n.log_text()).collect();
            let running = runs(&logs)
                .into_iter()
                .flat_map(|(table, list)| list.into_iter().map(move |r| (table.clone(), r)))
                .find(|(_, r)| r.2.is_none());
            if let Some((table, (node, _, _))) = running {
                cluster.nodes[node].kill9();
                killed = Some((node, table, chrono::Utc::now()));
            }
        }
        if let Some((node, table, at)) = &killed {
            let survivor = 1 - node;
            let took_over = events(&cluster.nodes[survivor].log_text())
                .iter()
                .any(|e| !e.started && e.table == *table && e.at > *at);
            if took_over && started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
    }
    let (dead, table, at) = killed.expect("a node was seen in the middle of a run and killed");
    let survivor = 1 - dead;
    let mut logs: Vec<String> = cluster.nodes.iter().map(|n| n.log_text()).collect();
    // Give the survivor a last round after the writes stopped.
    tokio::time::sleep(Duration::from_secs(3)).await;
    logs[survivor] = cluster.nodes[survivor].log_text();
    let all = runs(&logs);
    let by_node: HashMap<usize, usize> = all.values().flatten().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.0).or_default() += 1;
        m
    });
    assert!(by_node.len() == 2, "both nodes compacted: {by_node:?}");
    assert!(
        events(&logs[survivor])
            .iter()
            .any(|e| !e.started && e.table == table && e.at > at),
        "the survivor took {table} over after the kill"
    );
    for (ident, _, model, _) in &tables {
        let loaded = client.load_table(ident).await.unwrap();
        assert_eq!(scan(&loaded).await, *model, "{ident}");
        let compactions = main_ancestry(&loaded.metadata)
            .filter(|s| {
                s.summary()
                    .additional_properties
                    .get("floe.operation")
                    .map(String::as_str)
                    == Some("compaction")
            })
            .count();
        assert!(compactions > 0, "{ident} was compacted");
    }
    // The survivor's /metrics count its runs and what they rewrote.
    let metrics = reqwest::get(format!("{}/metrics", cluster.urls()[survivor]))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> f64 {
        metric_sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    assert!(value("floe_compaction_runs_total{outcome=\"ok\"}") >= 1.0);
    assert!(value("floe_compaction_groups_total{outcome=\"committed\"}") >= 1.0);
    assert!(value("floe_compaction_files_rewritten_total") >= 2.0);
    assert!(value("floe_compaction_bytes_rewritten_total") > 0.0);
    println!("{checkpoint} checkpoints per table; runs per node {by_node:?}; killed node {dead} during {table}");
}

async fn write_checkpoint(
    writer: &mut UpsertWriter,
    model: &mut BTreeMap<i64, Row>,
    rng: &mut Rng,
    checkpoint: i64,
) {
    let cp = random_checkpoint(rng, model, 40, 200, checkpoint as usize);
    writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
    committed(writer.commit(Some(checkpoint), None).await.unwrap());
}
