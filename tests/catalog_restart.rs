//! Durability across restarts of a real `floe serve` on the same warehouse and data dir:
//! a graceful stop (SIGTERM) keeps everything exactly; a SIGKILL in the middle of a burst
//! of concurrent commits keeps every acknowledged commit, leaves every table pointing at
//! a metadata file that exists and parses, and the restarted server takes new commits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_test_support::*;
use serde_json::{json, Value};

/// Sorts the arrays that iceberg-rust serializes from hash maps, so two loads of the same
/// metadata compare equal.
fn canonical(mut metadata: Value) -> Value {
    for key in [
        "snapshots",
        "schemas",
        "partition-specs",
        "sort-orders",
        "statistics",
    ] {
        if let Some(Value::Array(items)) = metadata.get_mut(key) {
            items.sort_by_key(|v| v.to_string());
        }
    }
    metadata
}

/// Everything the catalog holds, walked through the API: every namespace (recursively)
/// with its properties and tables, and every table's metadata location and metadata.
async fn catalog_state(h: &Http) -> Value {
    let mut namespaces = BTreeMap::new();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    while let Some(parent) = queue.pop() {
        let levels: Vec<&str> = parent.iter().map(String::as_str).collect();
        let url = if parent.is_empty() {
            "/v1/namespaces".to_string()
        } else {
            format!("/v1/namespaces?parent={}", ns_url(&levels))
        };
        for child in h.list_all(&url, "namespaces", 1000).await.0 {
            let child: Vec<String> = serde_json::from_value(child).unwrap();
            let levels: Vec<&str> = child.iter().map(String::as_str).collect();
            let props = h.get(&ns_path(&levels)).await.ok()["properties"].clone();
            let mut tables = BTreeMap::new();
            for ident in h
                .list_all(&tables_path(&levels), "identifiers", 1000)
                .await
                .0
            {
                let name = ident["name"].as_str().unwrap();
                let loaded = h.load_table(&levels, name).await;
                let location = loaded["metadata-location"].as_str().unwrap();
                let on_disk = read_metadata_file(location);
                assert_eq!(
                    canonical(on_disk),
                    canonical(loaded["metadata"].clone()),
                    "{location}"
                );
                tables.insert(
                    name.to_string(),
                    json!({
                        "metadata-location": location,
                        "metadata": canonical(loaded["metadata"].clone()),
                    }),
                );
            }
            namespaces.insert(
                child.join("."),
                json!({"properties": props, "tables": tables}),
            );
            queue.push(child);
        }
    }
    serde_json::to_value(namespaces).unwrap()
}

#[tokio::test]
async fn everything_survives_a_graceful_restart() {
    let mut env = TestEnv::start();
    let h = env.http.clone();
    h.create_namespace(&["sales"], json!({"owner": "ana", "tier": "gold"}))
        .await;
    h.create_namespace(&["sales", "eu"], json!({"region": "eu"}))
        .await;
    h.create_namespace(&["sales", "eu", "de"], json!({})).await;
    h.create_namespace(&["empty"], json!({})).await;
    let props = json!({"updates": {"tier": "platinum"}, "removals": ["owner"]});
    h.post(&format!("{}/properties", ns_path(&["sales"])), &props)
        .await
        .ok();
    for (ns, name) in [
        (&["sales"][..], "orders"),
        (&["sales", "eu", "de"][..], "events"),
        (&["sales"][..], "gone"),
    ] {
        h.create_table(ns, name).await;
        for i in 0..3 {
            h.set_properties(ns, name, json!({format!("k{i}"): format!("v{i}")}))
                .await
                .ok();
        }
    }
    assert_eq!(h.delete(&table_path(&["sales"], "gone")).await.status, 204);
    let rename = json!({"source": {"namespace": ["sales"], "name": "orders"},
                        "destination": {"namespace": ["sales", "eu"], "name": "orders_eu"}});
    assert_eq!(h.post("/v1/tables/rename", &rename).await.status, 204);

    let before = catalog_state(&h).await;
    assert_eq!(before.as_object().unwrap().len(), 4, "{before:#}");
    assert_eq!(before["sales"]["properties"], json!({"tier": "platinum"}));
    assert_eq!(before["sales"]["tables"], json!({}));
    assert!(before["sales.eu"]["tables"]["orders_eu"]["metadata"]["properties"]["k2"] == "v2");
    let files = list_files(&env.warehouse());

    env.restart(false);
    let h = env.http.clone();
    assert!(env.server.log_text().contains("catalog ready"));
    assert_eq!(
        catalog_state(&h).await,
        before,
        "state changed across a SIGTERM restart"
    );
    assert_eq!(
        list_files(&env.warehouse()),
        files,
        "a restart must not touch the warehouse"
    );
    assert_eq!(h.head(&table_path(&["sales"], "gone")).await, 404);
    assert_eq!(h.head(&table_path(&["sales"], "orders")).await, 404);

    // The restarted server goes on from where it was.
    let old = h.metadata_location(&["sales", "eu"], "orders_eu").await;
    let committed = h
        .set_properties(&["sales", "eu"], "orders_eu", json!({"after": "restart"}))
        .await
        .ok();
    assert_ne!(committed["metadata-location"], old.as_str());
    let log = committed["metadata"]["metadata-log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["metadata-file"], old.as_str());
    assert!(
        committed["metadata-location"]
            .as_str()
            .unwrap()
            .contains("/00004-"),
        "{committed}"
    );
    let dup = h
        .post("/v1/namespaces", &json!({"namespace": ["sales"]}))
        .await;
    dup.error(409, "AlreadyExistsException");
}

const TABLES: [&str; 2] = ["t0", "t1"];

/// What the burst's clients were told: keys whose commit was acknowledged, per table,
/// and keys of acknowledged two-table transactions.
#[derive(Default)]
struct Acked {
    keys: BTreeMap<&'static str, BTreeSet<String>>,
    tx_keys: BTreeSet<String>,
    attempted_tx: BTreeSet<String>,
}

/// Runs four writers (two per table, set-properties in a loop) and one writer of
/// two-table transactions, SIGKILLs the server once enough commits were acknowledged
/// (while the writers are still going), and returns what was acknowledged.
async fn burst_then_kill9(env: &mut TestEnv, round: usize) -> Acked {
    let acked_count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (h, count) = (env.http.clone(), acked_count.clone());
        let table = TABLES[w % 2];
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let key = format!("r{round}-w{w}-{i}");
                let body = json!({"requirements": [], "updates": [
                    {"action": "set-properties", "updates": {key.clone(): i.to_string()}}]});
                match h
                    .try_send(
                        reqwest::Method::POST,
                        &table_path(&["burst"], table),
                        Some(body.to_string().into_bytes()),
                    )
                    .await
                {
                    Ok(r) if r.status == 200 => {
                        acked.push((table, key));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => assert!(
                        r.status.is_server_error() || r.status == 409,
                        "unexpected {} {}",
                        r.status,
                        r.text
                    ),
                    Err(_) => break, // the server is gone
                }
            }
            (acked, Vec::new(), Vec::new())
        }));
    }
    let (h, count) = (env.http.clone(), acked_count.clone());
    tasks.push(tokio::spawn(async move {
        let (mut acked, mut attempted) = (Vec::new(), Vec::new());
        for i in 0.. {
            let key = format!("r{round}-tx-{i}");
            let change = |t: &str| {
                json!({"identifier": {"namespace": ["burst"], "name": t}, "requirements": [],
                "updates": [{"action": "set-properties", "updates": {key.clone(): "tx"}}]})
            };
            let body = json!({"table-changes": [change(TABLES[0]), change(TABLES[1])]});
            attempted.push(key.clone());
            match h
                .try_send(
                    reqwest::Method::POST,
                    "/v1/transactions/commit",
                    Some(body.to_string().into_bytes()),
                )
                .await
            {
                Ok(r) if r.status == 204 => {
                    acked.push(key);
                    count.fetch_add(1, Ordering::SeqCst);
                }
                Ok(r) => assert!(
                    r.status.is_server_error() || r.status == 409,
                    "unexpected {} {}",
                    r.status,
                    r.text
                ),
                Err(_) => break,
            }
        }
        (Vec::new(), acked, attempted)
    }));

    let deadline = Instant::now() + Duration::from_secs(20);
    while acked_count.load(Ordering::SeqCst) < 60 {
        assert!(
            Instant::now() < deadline,
            "the burst made no progress; log:\n{}",
            env.server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    env.server.kill9();
    let mut result = Acked::default();
    for task in tasks {
        let (keys, tx, attempted) = task.await.expect("writer task");
        for (table, key) in keys {
            result.keys.entry(table).or_default().insert(key);
        }
        result.tx_keys.extend(tx);
        result.attempted_tx.extend(attempted);
    }
    result
}

#[tokio::test]
async fn acknowledged_commits_survive_kill9() {
    let mut env = TestEnv::start();
    env.http.create_namespace(&["burst"], json!({})).await;
    for t in TABLES {
        env.http.create_table(&["burst"], t).await;
    }
    let mut all_acked: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut all_tx = BTreeSet::new();
    for round in 0..2 {
        let acked = burst_then_kill9(&mut env, round).await;
        assert!(acked.keys.values().map(BTreeSet::len).sum::<usize>() > 0);
        for (t, keys) in acked.keys {
            all_acked.entry(t).or_default().extend(keys);
        }
        all_tx.extend(acked.tx_keys.iter().cloned());
        env.server = FloeServer::start(&env.warehouse(), &env.data_dir());
        env.http = Http::new(env.server.url());
        let h = &env.http;

        let mut props = Vec::new();
        for t in TABLES {
            let loaded = h.load_table(&["burst"], t).await;
            let location = loaded["metadata-location"].as_str().unwrap();
            let on_disk = read_metadata_file(location);
            assert_eq!(
                on_disk["properties"], loaded["metadata"]["properties"],
                "{t}: {location}"
            );
            for entry in loaded["metadata"]["metadata-log"].as_array().unwrap() {
                read_metadata_file(entry["metadata-file"].as_str().unwrap());
            }
            let p: BTreeMap<String, String> =
                serde_json::from_value(loaded["metadata"]["properties"].clone()).unwrap();
            let lost: Vec<_> = all_acked[t]
                .iter()
                .filter(|k| !p.contains_key(*k))
                .collect();
            assert!(
                lost.is_empty(),
                "round {round}, {t}: acknowledged commits lost after SIGKILL: {lost:?}"
            );
            let lost_tx: Vec<_> = all_tx.iter().filter(|k| !p.contains_key(*k)).collect();
            assert!(
                lost_tx.is_empty(),
                "round {round}, {t}: acknowledged transactions lost: {lost_tx:?}"
            );
            props.push(p);
        }
        // A transaction is all-or-nothing even when the process dies during it.
        for key in &acked.attempted_tx {
            let present: Vec<bool> = props.iter().map(|p| p.contains_key(key)).collect();
            assert!(
                present[0] == present[1],
                "round {round}: transaction {key} is half applied: {present:?}"
            );
        }
        // The restarted server serves new commits.
        for t in TABLES {
            let key = format!("after-kill-{round}");
            let committed = h
                .set_properties(&["burst"], t, json!({key.clone(): "ok"}))
                .await
                .ok();
            assert_eq!(committed["metadata"]["properties"][&key], "ok");
            read_metadata_file(committed["metadata-location"].as_str().unwrap());
            all_acked.entry(t).or_default().insert(key);
        }
    }
}
