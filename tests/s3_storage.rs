//! An `s3://` warehouse on the local S3-compatible server (moto, started by
//! `scripts/test.sh`): the catalog, `floe upsert`, `floe compact`, `floe expire-snapshots`
//! and a purging drop, run as a user runs them, with every file checked in the bucket.

use std::collections::BTreeSet;

use floe_client::parse_table_ident;
use floe_compaction::{reachable_files, Entries};
use floe_test_support::changes::*;
use floe_test_support::cli::{floe_command, Run};
use floe_test_support::compaction::assert_reachable_present;
use floe_test_support::s3::{rest_client, S3Env};
use floe_test_support::upsert_cli::*;
use floe_test_support::*;
use serde_json::{json, Value};

/// Runs `floe ARGS` with the S3 credentials in the environment; asserts success.
#[track_caller]
fn floe_ok(s3: &S3Env, args: &[&str]) -> Run {
    let out = floe_command(args)
        .envs(s3.envs())
        .output()
        .expect("run the floe binary");
    Run::from(out).succeeded(&format!("floe {args:?}"))
}

fn start_server(s3: &S3Env, warehouse: &str, data_dir: &std::path::Path) -> FloeServer {
    FloeServer::start_with_env(warehouse.as_ref(), data_dir, &[], &s3.envs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_writer_compactor_expiry_and_purge_on_s3() {
    let Some(s3) = S3Env::from_env() else { return };
    let bucket = s3.new_bucket("lifecycle").await;
    let dirs = tempfile::tempdir().unwrap();
    let server = start_server(&s3, &format!("s3://{bucket}/wh"), &dirs.path().join("data"));
    let (http, url) = (Http::new(server.url()), server.url());

    // Three checkpoints through `floe upsert`: inserts, then updates and deletes.
    let inputs = dirs.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let mut rng = Rng(11);
    let mut model = Rows::new();
    let mut paths = Vec::new();
    for c in 1..=3 {
        let changes = generate_checkpoint(&mut rng, c, 300, 400);
        apply(&mut model, &changes);
        let path = inputs.join(format!("c{c}.parquet"));
        write_changes(&path, &changes);
        paths.push(path);
    }
    let mut args = vec!["upsert", "--catalog", url, "--table", "ns.t"];
    for p in &paths {
        args.extend(["--input", p.to_str().unwrap()]);
    }
    args.extend("--create --key id --buckets 4 --writer-id s3".split(' '));
    let run = floe_ok(&s3, &args);
    assert!(
        run.checkpoint_line(3).contains("committed"),
        "{}",
        run.stdout
    );

    // The catalog tells clients where the files are, without a secret.
    let loaded = http.get("/v1/namespaces/ns/tables/t").await.ok();
    let config = &loaded["config"];
    assert_eq!(config["s3.endpoint"], json!(s3.endpoint), "{config}");
    assert_eq!(config["s3.path-style-access"], "true", "{config}");
    let text = config.to_string();
    assert!(!text.contains("floe-test-secret") && !text.contains("secret-access-key"));
    let location = loaded["metadata"]["location"].as_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("s3://{bucket}/wh/ns/t-")),
        "{location}"
    );
    let table_prefix = location.strip_prefix(&format!("s3://{bucket}/")).unwrap();

    // Every file is in the bucket, and the scan (iceberg-rust over the same storage layer)
    // is the model.
    let objects = s3.list(&bucket, table_prefix).await;
    let metadata_location = loaded["metadata-location"].as_str().unwrap();
    assert!(objects.contains(metadata_location), "{objects:?}");
    let before = current_summary(&http, "ns.t").await;
    let equality_deletes: u64 = before["total-equality-deletes"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(equality_deletes > 0, "{before}");
    let parquet = |set: &BTreeSet<String>| set.iter().filter(|p| p.ends_with(".parquet")).count();
    let live_files = |s: &Value| {
        ["total-data-files", "total-delete-files"]
            .iter()
            .map(|k| s[*k].as_str().unwrap().parse::<usize>().unwrap())
            .sum::<usize>()
    };
    assert_eq!(parquet(&objects), live_files(&before), "{objects:?}");
    assert_rows_eq(
        &scan_rows_with(url, "ns.t", &s3.settings()).await,
        &model,
        "after upserts",
    );

    // `floe compact` folds the deletes away on S3.
    floe_ok(
        &s3,
        &[
            "compact",
            "--catalog",
            url,
            "--table",
            "ns.t",
            "--min-input-files",
            "1",
        ],
    );
    let after = current_summary(&http, "ns.t").await;
    assert_eq!(after["total-delete-files"], "0", "{after}");
    assert_rows_eq(
        &scan_rows_with(url, "ns.t", &s3.settings()).await,
        &model,
        "after compaction",
    );

    // Expiry deletes from the bucket exactly what no remaining snapshot reaches; no
    // metadata file goes.
    let metadata_files = |set: &BTreeSet<String>| -> BTreeSet<String> {
        set.iter()
            .filter(|p| p.ends_with(".metadata.json"))
            .cloned()
            .collect()
    };
    let before_expiry = s3.list(&bucket, table_prefix).await;
    let snapshots = http.get("/v1/namespaces/ns/tables/t").await.ok()["metadata"]["snapshots"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        snapshots > 3,
        "three upserts and at least one compaction commit"
    );
    let run = floe_ok(
        &s3,
        &[
            "expire-snapshots",
            "--catalog",
            url,
            "--table",
            "ns.t",
            "--older-than",
            "0s",
            "--retain-last",
            "1",
        ],
    );
    let expired = format!("expired {} snapshots", snapshots - 1);
    assert!(run.stdout.contains(&expired), "{}", run.stdout);
    let after_expiry = s3.list(&bucket, table_prefix).await;
    assert!(metadata_files(&before_expiry).is_subset(&metadata_files(&after_expiry)));
    let client = rest_client(url, &s3.settings()).await;
    let table = client
        .load_table(&parse_table_ident("ns.t").unwrap())
        .await
        .unwrap();
    let current = table.metadata.current_snapshot_id().unwrap();
    let kept = reachable_files(&table.file_io, &table.metadata, &[current], Entries::Live)
        .await
        .unwrap();
    assert_reachable_present(&kept, &after_expiry);
    let parquet_left: BTreeSet<&String> = after_expiry
        .iter()
        .filter(|p| p.ends_with(".parquet"))
        .collect();
    let live: BTreeSet<&String> = kept.content_files.iter().collect();
    assert_eq!(
        parquet_left, live,
        "expired data and delete files are gone from the bucket"
    );
    assert!(parquet(&before_expiry) > parquet_left.len());
    assert_rows_eq(
        &scan_rows_with(url, "ns.t", &s3.settings()).await,
        &model,
        "after expiry",
    );

    // A purging drop empties the table's prefix; the bucket's other tables stay.
    let other = s3.list(&bucket, "wh").await.len();
    assert_eq!(other, after_expiry.len(), "only ns.t is in the warehouse");
    let dropped = http
        .delete("/v1/namespaces/ns/tables/t?purgeRequested=true")
        .await;
    assert_eq!(dropped.status.as_u16(), 204, "{}", dropped.text);
    assert_eq!(s3.list(&bucket, table_prefix).await, BTreeSet::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_outside_the_s3_warehouse_are_refused() {
    let Some(s3) = S3Env::from_env() else { return };
    let bucket = s3.new_bucket("refusals").await;
    let dirs = tempfile::tempdir().unwrap();
    let server = start_server(
        &s3,
        &format!("s3://{bucket}/wh/"),
        &dirs.path().join("data"),
    );
    let http = Http::new(server.url());
    http.post("/v1/namespaces", &json!({"namespace": ["ns"]}))
        .await
        .ok();
    let schema = json!({"type": "struct", "schema-id": 0,
        "fields": [{"id": 1, "name": "id", "type": "long", "required": true}]});
    for location in [
        format!("s3://{bucket}/elsewhere/t"),
        format!("s3://{bucket}/wh2/t"),
        "s3://another-bucket/wh/t".to_string(),
        "/tmp/wh/t".to_string(),
        format!("s3://{bucket}/wh/../t"),
    ] {
        let body = json!({"name": "t", "schema": schema, "location": location});
        let answer = http.post("/v1/namespaces/ns/tables", &body).await;
        answer.error(400, "BadRequestException");
        assert!(
            answer.message().contains("outside the warehouse"),
            "{}",
            answer.message()
        );
    }
    assert_eq!(
        s3.list(&bucket, "").await,
        BTreeSet::new(),
        "nothing was written"
    );
    // Inside the warehouse is fine, with or without a trailing slash on the root.
    let body =
        json!({"name": "t", "schema": schema, "location": format!("s3://{bucket}/wh/mine/t")});
    let created = http.post("/v1/namespaces/ns/tables", &body).await.ok();
    assert!(created["metadata-location"]
        .as_str()
        .unwrap()
        .starts_with(&format!("s3://{bucket}/wh/mine/t/metadata/")));
    assert_eq!(s3.list(&bucket, "wh/mine/t").await.len(), 1);

    // A warehouse URL without a bucket stops the server at start, saying what is wrong.
    let out = floe_command(&[
        "serve".to_string(),
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--warehouse".into(),
        "s3://".into(),
        "--data-dir".into(),
        dirs.path().join("data2").display().to_string(),
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("s3://bucket/prefix"), "{stderr}");
}

/// The node's S3 settings from its config file alone (no AWS variables in its
/// environment), used by its own scheduled compaction; the secret never reaches its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_settings_serve_and_compact_on_schedule() {
    let Some(s3) = S3Env::from_env() else { return };
    let bucket = s3.new_bucket("scheduled").await;
    let dirs = tempfile::tempdir().unwrap();
    let warehouse = format!("s3://{bucket}/wh");
    let config = dirs.path().join("floe.toml");
    let secret = s3.envs()[1].1.clone();
    std::fs::write(
        &config,
        format!(
            "warehouse = \"{warehouse}\"\ncompaction-interval = \"1s\"\n\n[s3]\n\
             endpoint = \"{}\"\nregion = \"us-east-1\"\npath-style-access = true\n\
             access-key-id = \"{}\"\nsecret-access-key = \"{secret}\"\n",
            s3.endpoint,
            s3.envs()[0].1,
        ),
    )
    .unwrap();
    let extra = ["--config".to_string(), config.display().to_string()];
    let server = FloeServer::start_with_env(
        warehouse.as_ref(),
        &dirs.path().join("data"),
        &extra,
        &s3.envs()
            .into_iter()
            .map(|(k, _)| (k, String::new()))
            .collect::<Vec<_>>(),
    );
    let (http, url) = (Http::new(server.url()), server.url());

    let mut model = Rows::new();
    let inserts: Vec<Change> = (0..100).map(|i| Change::insert(i, "a", i)).collect();
    let updates: Vec<Change> = (0..50).map(|i| Change::insert(i, "b", -i)).collect();
    let (p1, p2) = (dirs.path().join("1.parquet"), dirs.path().join("2.parquet"));
    write_changes(&p1, &inserts);
    write_changes(&p2, &updates);
    apply(&mut model, &inserts);
    apply(&mut model, &updates);
    let (p1, p2) = (p1.to_str().unwrap(), p2.to_str().unwrap());
    floe_ok(
        &s3,
        &[
            "upsert",
            "--catalog",
            url,
            "--table",
            "ns.t",
            "--input",
            p1,
            "--input",
            p2,
            "--create",
            "--key",
            "id",
            "--buckets",
            "2",
        ],
    );
    let body =
        json!({"requirements": [], "updates": set_props("floe.compaction.min-input-files", "1")});
    http.post("/v1/namespaces/ns/tables/t", &body).await.ok();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = current_summary(&http, "ns.t").await;
        if now["floe.operation"] == "compaction" && now["total-delete-files"] == "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled compaction within 60 s: {now}\nlog:\n{}",
            server.log_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_rows_eq(
        &scan_rows_with(url, "ns.t", &s3.settings()).await,
        &model,
        "compacted",
    );
    assert!(
        !server.log_text().contains(&secret),
        "the secret is in the log"
    );
}

/// `/ready` and `floe_warehouse_up` follow the S3 warehouse: ready on the live server,
/// 503 naming the warehouse when its endpoint does not answer (the catalog store is fine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_s3_warehouse() {
    let Some(s3) = S3Env::from_env() else { return };
    let bucket = s3.new_bucket("ready").await;
    let dirs = tempfile::tempdir().unwrap();
    let live = start_server(&s3, &format!("s3://{bucket}/wh"), &dirs.path().join("a"));
    let ready = Http::new(live.url()).get("/ready").await;
    assert_eq!(ready.status.as_u16(), 200, "{}", ready.text);
    assert_eq!(ready.body["warehouse"], "ok", "{}", ready.text);

    // Nothing listens on port 1.
    let mut envs = s3.envs();
    envs.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    envs.push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:1".into()));
    let dead = FloeServer::start_with_env(
        format!("s3://{bucket}/wh").as_ref(),
        &dirs.path().join("b"),
        &[],
        &envs,
    );
    let http = Http::new(dead.url());
    let ready = http.get("/ready").await;
    assert_eq!(ready.status.as_u16(), 503, "{}", ready.text);
    assert_eq!(ready.body["store"], "ok", "{}", ready.text);
    let why = ready.body["warehouse"].as_str().unwrap();
    assert!(why != "ok" && why.contains("s3://"), "{why}");
    let text = http.get("/metrics").await.text;
    assert_eq!(
        metric_sample(&text, "floe_warehouse_up"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(metric_sample(&text, "floe_store_up"), Some(1.0));
}
