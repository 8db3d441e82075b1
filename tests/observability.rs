//! The operator endpoints of the real `floe serve`: `/health`, `/ready` (and 503 while its
//! ZooKeeper member is down), `/metrics` after real commits (requests by route and
//! status, commits by outcome, lock waits, per-table file counts and watermark lag), and
//! one JSON log line per commit with `--log-format json`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use floe_client::RestClient;
use floe_test_support::changes::Rng;
use floe_test_support::upsert_model::*;
use floe_test_support::zk::{zk_env, StoppedMember};
use floe_test_support::{metric_sample, FloeServer, Http};
use serde_json::{json, Value};

/// The value at the end of a sample line.
fn value_of(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn series_with(text: &str, name: &str, parts: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(name) && parts.iter().all(|p| l.contains(p)))
        .map(str::to_string)
        .collect()
}

async fn metrics_text(http: &Http) -> String {
    let response = reqwest::get(format!("{}/metrics", http.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_commits_and_logs_are_json() {
    let dirs = tempfile::tempdir().unwrap();
    let extra = ["--log-format".to_string(), "json".to_string()];
    let server = FloeServer::start_with_args(
        &dirs.path().join("warehouse"),
        &dirs.path().join("data"),
        &extra,
    );
    let http = Http::new(server.url());
    assert_eq!(http.get("/health").await.ok(), json!({"status": "ok"}));
    let ready = http.get("/ready").await.ok();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["zookeeper"], "not used");

    // Two checkpoints with a watermark an hour old, then a commit that conflicts.
    let client = RestClient::connect(server.url()).await.unwrap();
    let ident = create_table(&client, "observed", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut rng = Rng(3);
    let mut model = BTreeMap::new();
    let hour_ago = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let mut reports = Vec::new();
    for checkpoint in 1..=2 {
        let cp = random_checkpoint(&mut rng, &mut model, 40, 40, checkpoint);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        let outcome = writer
            .commit(Some(checkpoint as i64), Some(hour_ago))
            .await
            .unwrap();
        reports.push(committed(outcome));
    }
    let stale = json!({
        "requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 1}],
        "updates": [],
    });
    http.post("/v1/namespaces/ns/tables/observed", &stale)
        .await
        .error(409, "CommitFailedException");
    let missing = http.get("/v1/namespaces/ns/tables/missing").await;
    assert_eq!(missing.status, 404);

    // A made-up method is counted as "other", so method names cannot grow the series.
    let odd = reqwest::Method::from_bytes(b"FOO123").unwrap();
    let response = http
        .client
        .request(odd, format!("{}/v1/config", http.base))
        .send()
        .await;
    assert!(response.is_ok());

    let text = metrics_text(&http).await;
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(!text.contains("FOO123"), "{text}");
    let table_route = "route=\"/v1/namespaces/{namespace}/tables/{table}\"";
    let posts = series_with(
        &text,
        "floe_http_requests_total{",
        &["method=\"POST\"", table_route, "status=\"200\""],
    );
    assert_eq!(posts.len(), 1, "{text}");
    assert!(
        value_of(&posts[0]) >= 2.0,
        "two checkpoint commits: {}",
        posts[0]
    );
    let not_found = series_with(
        &text,
        "floe_http_requests_total{",
        &["method=\"GET\"", table_route, "status=\"404\""],
    );
    assert_eq!(not_found.len(), 1, "{text}");
    assert!(
        text.contains("floe_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert_eq!(
        metric_sample(&text, "floe_commits_total{outcome=\"ok\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric_sample(&text, "floe_commits_total{outcome=\"conflict\"}"),
        Some(1.0)
    );
    assert!(metric_sample(&text, "floe_lock_wait_seconds_count").unwrap() >= 2.0);
    assert!(metric_sample(&text, "floe_commit_duration_seconds_count{outcome=\"ok\"}").is_some());
    let data_files: u64 = reports.iter().map(|r| r.data_files as u64).sum();
    let delete_files: u64 = reports
        .iter()
        .map(|r| (r.equality_delete_files + r.position_delete_files) as u64)
        .sum();
    assert_eq!(
        metric_sample(&text, "floe_table_data_files{table=\"ns.observed\"}"),
        Some(data_files as f64)
    );
    assert_eq!(
        metric_sample(&text, "floe_table_delete_files{table=\"ns.observed\"}"),
        Some(delete_files as f64)
    );
    let lag = metric_sample(
        &text,
        "floe_table_watermark_lag_seconds{table=\"ns.observed\"}",
    )
    .unwrap();
    assert!((3_600.0..3_900.0).contains(&lag), "lag {lag}");
    assert_eq!(metric_sample(&text, "floe_store_up"), Some(1.0));
    assert_eq!(metric_sample(&text, "floe_warehouse_up"), Some(1.0));
    assert!(
        !text.contains("floe_zookeeper_session_connected"),
        "no ZooKeeper here"
    );

    // One JSON line per commit, with table, snapshot, sequence number, outcome, duration.
    let lines: Vec<Value> = server
        .log_text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let commits: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "commit" && l["fields"]["table"] == "ns.observed")
        .collect();
    assert_eq!(commits.len(), 3, "2 checkpoints, 1 conflict: {commits:?}");
    let last_ok = commits
        .iter()
        .rfind(|c| c["fields"]["outcome"] == "ok")
        .unwrap();
    let last = reports.last().unwrap();
    assert_eq!(last_ok["fields"]["snapshot_id"], json!(last.snapshot_id));
    assert_eq!(
        last_ok["fields"]["sequence_number"],
        json!(last.sequence_number)
    );
    assert!(last_ok["fields"]["duration_ms"].is_u64());
    assert_eq!(commits[2]["fields"]["outcome"], "conflict");
}

fn client_port(dir: &str, member: usize) -> String {
    let cfg = std::fs::read_to_string(format!("{dir}/zk{member}.cfg")).unwrap();
    cfg.lines()
        .find_map(|l| l.strip_prefix("clientPort="))
        .expect("clientPort in the member's config")
        .trim()
        .to_string()
}

async fn wait_ready(http: &Http, want: u16, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let r = http.get("/ready").await;
        if r.status.as_u16() == want {
            return r.body;
        }
        assert!(Instant::now() < deadline, "/ready stayed {:?}", r);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_its_zookeeper_is_down() {
    let (Some(_), Some(dir)) = (
        zk_env("FLOE_TEST_ZK_ENSEMBLE"),
        zk_env("FLOE_TEST_ZK_ENSEMBLE_DIR"),
    ) else {
        return;
    };
    // The node knows one member only, so stopping that member cuts it off.
    let member = 1;
    let connect = format!("127.0.0.1:{}", client_port(&dir, member));
    let dirs = tempfile::tempdir().unwrap();
    let root = format!("/ready-{}", std::process::id());
    let extra = [
        "--zookeeper".to_string(),
        connect,
        "--zk-root".to_string(),
        root,
        "--zk-session-timeout-ms".to_string(),
        "4000".to_string(),
    ];
    let server = FloeServer::start_with_args(
        &dirs.path().join("warehouse"),
        &dirs.path().join("data"),
        &extra,
    );
    let http = Http::new(server.url());
    let ready = wait_ready(&http, 200, Duration::from_secs(10)).await;
    assert_eq!(ready["zookeeper"], "connected");
    let text = metrics_text(&http).await;
    assert_eq!(
        metric_sample(&text, "floe_zookeeper_session_connected"),
        Some(1.0)
    );

    let stop_dir = dir.clone();
    let mut stopped = tokio::task::spawn_blocking(move || {
        StoppedMember::stop(std::path::Path::new(&stop_dir), member)
    })
    .await
    .unwrap();
    let down = wait_ready(&http, 503, Duration::from_secs(20)).await;
    assert_eq!(down["status"], "not ready", "{down}");
    assert_ne!(down["store"], "ok", "{down}");
    // Still alive, and it says so.
    assert_eq!(http.get("/health").await.ok(), json!({"status": "ok"}));
    let text = metrics_text(&http).await;
    assert_eq!(metric_sample(&text, "floe_store_up"), Some(0.0));

    tokio::task::spawn_blocking(move || {
        stopped.restart();
        stopped
    })
    .await
    .unwrap();
    wait_ready(&http, 200, Duration::from_secs(60)).await;
}
