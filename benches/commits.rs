//! Commit benchmark (not a test): starts a real `floe serve` (release build) with the
//! embedded store and in-process locks, and one with the ZooKeeper store and locks, and
//! drives REST commits over loopback. Each commit adds a snapshot to `main` guarded by
//! `assert-ref-snapshot-id`, like an engine's append; a writer that gets 409 reloads and
//! retries. Prints p50/p99 latency of successful commit requests and commits per second,
//! for 1 and 8 writers on one table and 8 writers on 8 tables.
//!
//! Run: `cargo bench --bench commits` (ZooKeeper: uses `FLOE_TEST_ZK` when set, else
//! starts a standalone server with `scripts/zookeeper.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::start_node;

mod support;

const COMMITS_PER_WRITER: usize = 100;

struct ZooKeeper {
    dir: Option<PathBuf>,
    connect: String,
}

impl ZooKeeper {
    fn start() -> Self {
        if let Ok(connect) = std::env::var("FLOE_TEST_ZK") {
            return Self { dir: None, connect };
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/zookeeper.sh");
        let dir = std::env::temp_dir().join(format!("floe-bench-zk-{}", std::process::id()));
        for args in [
            vec!["install".to_string()],
            vec!["start".into(), dir.display().to_string(), "1".into()],
        ] {
            let status = Command::new(&script)
                .args(&args)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "zookeeper.sh {args:?} failed");
        }
        let connect = std::fs::read_to_string(dir.join("connect"))
            .unwrap()
            .trim()
            .to_string();
        Self {
            dir: Some(dir),
            connect,
        }
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/zookeeper.sh");
            let _ = Command::new(script)
                .arg("stop")
                .arg(dir)
                .stdout(Stdio::null())
                .status();
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let resp = http.post(url).json(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn create_table(http: &reqwest::Client, base: &str, name: &str) -> Value {
    let body = json!({"name": name, "schema": {"type": "struct", "schema-id": 0,
        "fields": [{"id": 1, "name": "id", "required": true, "type": "long"}]}});
    let (status, table) = post(http, &format!("{base}/v1/namespaces/bench/tables"), &body).await;
    assert_eq!(status, 200, "{table}");
    table["metadata"].clone()
}

/// One append-like commit on top of `metadata`: the new metadata, or `None` on 409.
async fn append(http: &reqwest::Client, url: &str, metadata: &Value, id: i64) -> Option<Value> {
    let parent = metadata["current-snapshot-id"].as_i64().filter(|i| *i >= 0);
    let body = json!({
        "requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": parent}],
        "updates": [
            {"action": "add-snapshot", "snapshot": {
                "snapshot-id": id, "parent-snapshot-id": parent,
                "sequence-number": metadata["last-sequence-number"].as_i64().unwrap() + 1,
                "timestamp-ms": chrono_ms(), "schema-id": 0,
                "manifest-list": format!("{}/metadata/snap-{id}.avro", metadata["location"].as_str().unwrap()),
                "summary": {"operation": "append"}}},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": id}
        ]
    });
    let (status, resp) = post(http, url, &body).await;
    match status {
        200 => Some(resp["metadata"].clone()),
        409 => None,
        other => panic!("commit answered {other}: {resp}"),
    }
}

fn chrono_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Figures {
    latencies: Vec<Duration>,
    conflicts: usize,
    elapsed: Duration,
}

/// `writers` tasks, each committing to `tables[w % tables.len()]`.
async fn run(base: &str, writers: usize, tables: &[String]) -> Figures {
    let http = reqwest::Client::new();
    let next_id = Arc::new(std::sync::atomic::AtomicI64::new(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (http, next_id) = (http.clone(), next_id.clone());
        let url = format!(
            "{base}/v1/namespaces/bench/tables/{}",
            tables[w % tables.len()]
        );
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut conflicts) = (Vec::new(), 0);
            let load = |http: reqwest::Client, url: String| async move {
                let v: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
                v["metadata"].clone()
            };
            let mut metadata = load(http.clone(), url.clone()).await;
            for _ in 0..COMMITS_PER_WRITER {
                loop {
                    let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let t = Instant::now();
                    match append(&http, &url, &metadata, id).await {
                        Some(m) => {
                            latencies.push(t.elapsed());
                            metadata = m;
                            break;
                        }
                        None => {
                            conflicts += 1;
                            metadata = load(http.clone(), url.clone()).await;
                        }
                    }
                }
            }
            (latencies, conflicts)
        }));
    }
    let mut figures = Figures {
        latencies: Vec::new(),
        conflicts: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (l, c) = t.await.unwrap();
        figures.latencies.extend(l);
        figures.conflicts += c;
    }
    figures.elapsed = started.elapsed();
    figures
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let zk = ZooKeeper::start();
    let modes: Vec<(&str, Vec<String>)> = vec![
        ("in-process", vec![]),
        (
            "zookeeper",
            vec![
                "--zookeeper".into(),
                zk.connect.clone(),
                "--zk-root".into(),
                format!("/bench-{}", std::process::id()),
            ],
        ),
    ];
    println!("| locks | scenario | commits | p50 ms | p99 ms | commits/s | 409s |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (mode, args) in modes {
        let node = start_node(&args);
        let http = reqwest::Client::new();
        let (status, body) = post(
            &http,
            &format!("{}/v1/namespaces", node.url),
            &json!({"namespace": ["bench"]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let mut n = 0;
        let mut fresh = |count: usize| {
            (0..count)
                .map(|_| {
                    n += 1;
                    format!("t{n}")
                })
                .collect::<Vec<_>>()
        };
        let scenarios = [
            ("1 writer, 1 table", 1, fresh(1)),
            ("8 writers, 1 table", 8, fresh(1)),
            ("8 writers, 8 tables", 8, fresh(8)),
        ];
        for (name, writers, tables) in scenarios {
            for t in &tables {
                create_table(&http, &node.url, t).await;
            }
            let mut f = run(&node.url, writers, &tables).await;
            f.latencies.sort();
            println!(
                "| {mode} | {name} | {} | {:.2} | {:.2} | {:.0} | {} |",
                f.latencies.len(),
                percentile(&f.latencies, 0.5),
                percentile(&f.latencies, 0.99),
                f.latencies.len() as f64 / f.elapsed.as_secs_f64(),
                f.conflicts
            );
        }
    }
}
