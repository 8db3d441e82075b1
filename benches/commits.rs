//! Commit benchmark (not a test): starts real `floe serve` nodes (release build): one with
//! the embedded store and in-process locks, one with the ZooKeeper store and locks, and
//! three sharing one ZooKeeper root and one warehouse; then drives REST commits over
//! loopback. Each commit adds a snapshot to `main` guarded by `assert-ref-snapshot-id`,
//! like an engine's append; a writer that gets 409 reloads and retries. Prints p50/p99
//! latency of successful commit requests and commits per second, for 1 and 8 writers on
//! one table and 8 writers on 8 tables (writer `w` sends to node `w % nodes`).
//!
//! Each row runs `FLOE_BENCH_ROUNDS` times (3) on fresh nodes and prints the medians.
//! With `FLOE_BENCH_BASELINE=<path of another floe binary>`, every round runs on that
//! build too, right before this one, so the two are measured side by side; `FLOE_BENCH_ARGS`
//! adds `floe serve` flags to this build's nodes (`--zk-lock-lease-ms 20`, say).
//!
//! Run: `cargo bench --bench commits [-- FILTER...]` (only the rows whose "locks,
//! scenario" contains one of the filters; ZooKeeper: uses `FLOE_TEST_ZK` when set, else
//! starts a standalone server with `scripts/zookeeper.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::start_cluster;

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

/// What a writer reads of a table's metadata: the rest of each answer is skipped without
/// being built into values, so the client's own work stays small beside the server's (an
/// engine on another machine would not share the server's cores).
#[derive(Clone, serde::Deserialize)]
struct Head {
    #[serde(rename = "current-snapshot-id")]
    current_snapshot_id: Option<i64>,
    #[serde(rename = "last-sequence-number")]
    last_sequence_number: i64,
    location: String,
}

/// A load or commit answer, as far as a writer reads it.
#[derive(serde::Deserialize)]
struct Answer {
    metadata: Head,
}

/// One append-like commit on top of `metadata`: the new metadata, or `None` on 409.
async fn append(http: &reqwest::Client, url: &str, metadata: &Head, id: i64) -> Option<Head> {
    let parent = metadata.current_snapshot_id.filter(|i| *i >= 0);
    let body = json!({
        "requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": parent}],
        "updates": [
            {"action": "add-snapshot", "snapshot": {
                "snapshot-id": id, "parent-snapshot-id": parent,
                "sequence-number": metadata.last_sequence_number + 1,
                "timestamp-ms": chrono_ms(), "schema-id": 0,
                "manifest-list": format!("{}/metadata/snap-{id}.avro", metadata.location),
                "summary": {"operation": "append"}}},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": id}
        ]
    });
    let resp = http.post(url).json(&body).send().await.unwrap();
    match resp.status().as_u16() {
        200 => Some(resp.json::<Answer>().await.unwrap().metadata),
        409 => None,
        other => panic!("commit answered {other}: {}", resp.text().await.unwrap()),
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

/// `writers` tasks, each committing to `tables[w % tables.len()]` through node
/// `urls[w % urls.len()]`.
async fn run(urls: &[String], writers: usize, tables: &[String]) -> Figures {
    let http = reqwest::Client::new();
    let next_id = Arc::new(std::sync::atomic::AtomicI64::new(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (http, next_id) = (http.clone(), next_id.clone());
        let url = format!(
            "{}/v1/namespaces/bench/tables/{}",
            urls[w % urls.len()],
            tables[w % tables.len()]
        );
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut conflicts) = (Vec::new(), 0);
            let load = |http: reqwest::Client, url: String| async move {
                let answer = http.get(&url).send().await.unwrap();
                answer.json::<Answer>().await.unwrap().metadata
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

/// One round of a row on fresh nodes at `urls`: p50 and p99 (ms), commits/s and 409s.
async fn measure(urls: &[String], writers: usize, tables: usize) -> [f64; 4] {
    let http = reqwest::Client::new();
    let namespace = json!({"namespace": ["bench"]});
    let (status, body) = post(&http, &format!("{}/v1/namespaces", urls[0]), &namespace).await;
    assert_eq!(status, 200, "{body}");
    let tables: Vec<String> = (0..tables).map(|t| format!("t{t}")).collect();
    for t in &tables {
        create_table(&http, &urls[0], t).await;
    }
    let mut f = run(urls, writers, &tables).await;
    f.latencies.sort();
    [
        percentile(&f.latencies, 0.5),
        percentile(&f.latencies, 0.99),
        f.latencies.len() as f64 / f.elapsed.as_secs_f64(),
        f.conflicts as f64,
    ]
}

/// Each figure's median over the rounds.
fn medians(rounds: Vec<[f64; 4]>) -> [f64; 4] {
    std::array::from_fn(|i| {
        let mut values: Vec<f64> = rounds.iter().map(|r| r[i]).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    })
}

#[tokio::main]
async fn main() {
    let zk = ZooKeeper::start();
    let zk_args = |root: usize| {
        vec![
            "--zookeeper".to_string(),
            zk.connect.clone(),
            "--zk-root".into(),
            format!("/bench-{}-{root}", std::process::id()),
        ]
    };
    // (locks, nodes, flags)
    let modes: [(&str, usize, bool); 3] = [
        ("in-process", 1, false),
        ("zookeeper", 1, true),
        ("zookeeper, 3 nodes", 3, true),
    ];
    let mut builds = vec![("this", PathBuf::from(env!("CARGO_BIN_EXE_floe")))];
    if let Some(baseline) = std::env::var_os("FLOE_BENCH_BASELINE") {
        builds.insert(0, ("baseline", PathBuf::from(baseline)));
    }
    println!("| build | locks | scenario | commits | p50 ms | p99 ms | commits/s | 409s |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    // `cargo bench` passes `--bench`; anything else is a row filter.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let this_args: Vec<String> = std::env::var("FLOE_BENCH_ARGS")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let rounds_per_row: usize = std::env::var("FLOE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut clusters = 0;
    for (mode, nodes, zookeeper) in modes {
        let scenarios: [(&str, usize, usize); 3] = [
            ("1 writer, 1 table", 1, 1),
            ("8 writers, 1 table", 8, 1),
            ("8 writers, 8 tables", 8, 8),
        ];
        for (name, writers, tables) in scenarios {
            let row = format!("{mode}, {name}");
            let wanted = filters.is_empty() || filters.iter().any(|f| row.contains(f.as_str()));
            if nodes > writers || !wanted {
                continue;
            }
            // Per build, each round's (p50 ms, p99 ms, commits/s, 409s); rounds alternate
            // the builds.
            let mut rounds: Vec<Vec<[f64; 4]>> = vec![Vec::new(); builds.len()];
            for _ in 0..rounds_per_row {
                for (b, (build, bin)) in builds.iter().enumerate() {
                    clusters += 1;
                    let mut args = if zookeeper { zk_args(clusters) } else { vec![] };
                    if *build == "this" {
                        args.extend(this_args.iter().cloned());
                    }
                    let cluster = start_cluster(bin, nodes, &args);
                    let urls: Vec<String> = cluster.iter().map(|n| n.url.clone()).collect();
                    let f = measure(&urls, writers, tables).await;
                    rounds[b].push(f);
                }
            }
            for ((build, _), figures) in builds.iter().zip(rounds) {
                let [p50, p99, rate, conflicts] = medians(figures);
                let commits = writers * COMMITS_PER_WRITER;
                println!(
                    "| {build} | {mode} | {name} | {commits} | {p50:.2} | {p99:.2} | {rate:.0} | {conflicts:.0} |"
                );
            }
        }
    }
}
