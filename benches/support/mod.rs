//! What the benchmarks share: a real `floe serve` (release build) on a free loopback port
//! in a temp dir, killed on drop; the generated upsert stream (10 columns); and the
//! upsert table it goes into.

// Each benchmark uses a part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use floe_client::RestClient;
use floe_table::properties::FORMAT_VERSION;
use floe_upsert::new_table_layout;
use iceberg::{NamespaceIdent, TableIdent};

pub struct Node {
    child: Child,
    pub url: String,
    dir: Option<tempfile::TempDir>,
}

impl Node {
    /// Leaves the node's files in place when it is dropped (see `SCRATCH`).
    pub fn keep_files(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
    }
}

/// With this variable set (to a directory, which becomes the children's `TMPDIR`), a
/// measurement leaves its files for the parent to delete after the last round. On a
/// journal-less ext4 a file create skips inodes deleted within the last minutes, so a
/// round that deletes thousands of files would slow the file creates of the rounds after
/// it.
pub const SCRATCH: &str = "FLOE_BENCH_SCRATCH";

pub fn keeps_files() -> bool {
    std::env::var_os(SCRATCH).is_some()
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_node(extra: &[String]) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let (warehouse, data) = (dir.path().join("wh"), dir.path().join("data"));
    spawn_node(
        Path::new(env!("CARGO_BIN_EXE_floe")),
        &warehouse,
        &data,
        extra,
        Some(dir),
    )
}

/// `n` nodes of the `floe` binary `bin` sharing one warehouse (each with a data directory
/// of its own), started with `extra` flags (a shared ZooKeeper, say).
pub fn start_cluster(bin: &Path, n: usize, extra: &[String]) -> Vec<Node> {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = dir.path().join("wh");
    let mut dir = Some(dir);
    (0..n)
        .map(|i| {
            let data = warehouse.with_file_name(format!("data{i}"));
            // The last node, dropped last, removes the directory.
            let owns = if i + 1 == n { dir.take() } else { None };
            spawn_node(bin, &warehouse, &data, extra, owns)
        })
        .collect()
}

fn spawn_node(
    bin: &Path,
    warehouse: &Path,
    data: &Path,
    extra: &[String],
    dir: Option<tempfile::TempDir>,
) -> Node {
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--warehouse"])
        .arg(warehouse)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    Node { child, url, dir }
}

/// The namespace of the benchmarks' tables.
pub fn namespace() -> NamespaceIdent {
    NamespaceIdent::new("bench".to_string())
}

/// Creates the upsert table `bench.<name>` of the stream's columns, keyed by `id` in
/// `buckets` buckets.
pub async fn create_table(client: &RestClient, name: &str, buckets: u32) -> TableIdent {
    client.ensure_namespace(&namespace()).await.unwrap();
    let ident = TableIdent::new(namespace(), name.to_string());
    let (schema, spec) = new_table_layout(&schema(), &["id".to_string()], buckets).unwrap();
    let props = HashMap::from([(FORMAT_VERSION.to_string(), "2".to_string())]);
    client
        .create_table(&ident, &schema, &spec, &props)
        .await
        .unwrap();
    ident
}

/// The benchmarks' 10 columns.
pub fn schema() -> SchemaRef {
    Arc::new(ArrowSchema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("account", DataType::Int64, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("score", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("version", DataType::Int32, true),
        Field::new("active", DataType::Boolean, true),
        Field::new(
            "updated_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
        Field::new("note", DataType::Utf8, true),
    ]))
}

/// Checkpoint `n` of the stream: half updates of keys written before, half new keys.
pub fn checkpoint(n: usize, rows: usize) -> RecordBatch {
    let mut state = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Checkpoint 0 inserts `rows` keys; each later one inserts `rows / 2` new keys and
    // updates `rows / 2` random keys written before (some of them twice).
    let existing = if n == 0 { 0 } else { rows + (n - 1) * rows / 2 } as i64;
    let ids: Vec<i64> = (0..rows)
        .map(|i| match n {
            0 => i as i64,
            _ if i % 2 == 1 => (next() % existing as u64) as i64,
            _ => existing + (i / 2) as i64,
        })
        .collect();
    const CITIES: [&str; 8] = [
        "Amsterdam",
        "Berlin",
        "Cairo",
        "Denver",
        "Espoo",
        "Fukuoka",
        "Graz",
        "Hanoi",
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int64Array::from_iter_values(
            ids.iter().map(|i| i % 100_003),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|_| (next() % 1_000_000) as f64 / 100.0),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|_| (next() % 1000) as f64 / 7.0),
        )),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| format!("user-{i:010}")),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|_| CITIES[(next() % 8) as usize]),
        )),
        Arc::new(Int32Array::from_iter_values((0..rows).map(|_| n as i32))),
        Arc::new(BooleanArray::from_iter(
            (0..rows).map(|_| Some(next() % 2 == 0)),
        )),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..rows).map(|i| 1_700_000_000_000_000 + (n * rows + i) as i64 * 1000),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|_| format!("note {:x}", next() % 65536)),
        )),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// The peak resident memory of this process so far, in MiB.
pub fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
