//! Helpers of the ZooKeeper cluster tests: several `floe serve` nodes on one warehouse and
//! one ZooKeeper root (`Cluster`), writers that append one-row Parquet files through
//! iceberg-rust's `RestCatalog` with their own retry loop (`Writer`), the checks of the
//! final table are in `table_checks`, ZooKeeper member control in `zk`.
//!
//! Retries: iceberg 0.10.1's `Transaction::commit` itself retries a 409 (reload, re-apply
//! the actions, `commit.retry.num-retries` = 4 times by default) and nothing else. The test
//! tables set `commit.retry.num-retries` to 0, so every attempt is one request and the
//! writer counts its 409s. A 409 certainly did not commit, so the same data file is appended
//! again on a reloaded table. Any other failure leaves the outcome unknown: from then on the
//! writer's attempts run iceberg's duplicate check (is the file already in the table just
//! reloaded?) and stop when it is; the server's compare-and-swap keeps a late landing of
//! the unknown attempt from doubling it, since every attempt builds on a fresh load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{
    DataFile, DataFileFormat, FormatVersion, NestedField, PrimitiveType, Schema, Type,
};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Catalog, ErrorKind, NamespaceIdent, TableCreation, TableIdent};
use iceberg_catalog_rest::RestCatalog;
use parquet::file::properties::WriterProperties;
use tokio::task::JoinHandle;

use crate::http::Http;
use crate::scan::rest_catalog;
use crate::server::FloeServer;

/// `n` nodes sharing one warehouse and one fresh ZooKeeper root, each its own data dir.
pub struct Cluster {
    /// Dropped (killed) before their directories go.
    pub nodes: Vec<FloeServer>,
    pub root: String,
    pub dirs: tempfile::TempDir,
}

impl Cluster {
    pub fn start(connect: &str, n: usize, extra: &[&str]) -> Self {
        let dirs = tempfile::tempdir().expect("temp dir");
        let root = format!("/test-{}", uuid::Uuid::new_v4().simple());
        let args: Vec<String> = ["--zookeeper", connect, "--zk-root", &root]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        let warehouse = dirs.path().join("warehouse");
        let nodes = (0..n)
            .map(|i| {
                let data = dirs.path().join(format!("data{i}"));
                FloeServer::start_with_args(&warehouse, &data, &args)
            })
            .collect();
        Self { nodes, root, dirs }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url().to_string()).collect()
    }

    pub fn http(&self, i: usize) -> Http {
        Http::new(self.nodes[i].url())
    }
}

/// Creates namespace `ns` and an unpartitioned v2 table `ns.name` (`id long`, `name
/// string`) whose commits are not retried by iceberg itself.
pub async fn create_append_table(catalog: &RestCatalog, name: &str) -> Table {
    let ns = NamespaceIdent::new("ns".to_string());
    if !catalog.namespace_exists(&ns).await.unwrap() {
        catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    }
    let schema = Schema::builder()
        .with_schema_id(0)
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .build()
        .unwrap();
    let creation = TableCreation::builder()
        .name(name.to_string())
        .schema(schema)
        .format_version(FormatVersion::V2)
        .properties([("commit.retry.num-retries".to_string(), "0".to_string())])
        .build();
    catalog.create_table(&ns, creation).await.unwrap()
}

/// Writes one Parquet data file holding the single row `(id, tag)`.
pub async fn write_row_file(table: &Table, id: i64, tag: &str) -> DataFile {
    let md = table.metadata();
    let schema = md.current_schema().clone();
    let arrow_schema = Arc::new(schema_to_arrow_schema(&schema).unwrap());
    let batch = RecordBatch::try_new(
        arrow_schema,
        vec![
            Arc::new(Int64Array::from(vec![id])),
            Arc::new(StringArray::from(vec![tag])),
        ],
    )
    .unwrap();
    let rolling = RollingFileWriterBuilder::new_with_default_file_size(
        ParquetWriterBuilder::new(WriterProperties::default(), schema),
        table.file_io().clone(),
        DefaultLocationGenerator::new(md).unwrap(),
        DefaultFileNameGenerator::new(tag.to_string(), None, DataFileFormat::Parquet),
    );
    let mut writer = DataFileWriterBuilder::new(rolling)
        .build(None)
        .await
        .unwrap();
    writer.write(batch).await.unwrap();
    let mut files = writer.close().await.unwrap();
    assert_eq!(files.len(), 1, "one row, one file");
    files.remove(0)
}

/// The live files of the current snapshot, one per manifest entry: path and the
/// snapshot that added it.
pub async fn live_entries(table: &Table) -> Vec<(String, i64)> {
    floe_table::live_entries(table.file_io(), table.metadata(), None)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, entry)| {
            let added_by = entry.snapshot_id().expect("an entry knows its snapshot");
            (entry.data_file().file_path().to_string(), added_by)
        })
        .collect()
}

async fn holds_file(table: &Table, path: &str) -> bool {
    live_entries(table).await.iter().any(|(p, _)| p == path)
}

/// An acknowledged append.
#[derive(Clone, Debug)]
pub struct Ack {
    pub file: String,
    pub id: i64,
    /// The snapshot the 200 answer made current; `None` when an unknown outcome was
    /// settled by finding the file in the table.
    pub snapshot_id: Option<i64>,
    /// The metadata file the 200 answer named; `None` as for `snapshot_id`.
    pub metadata_location: Option<String>,
    pub node: usize,
    pub started: Instant,
    pub acked: Instant,
}

#[derive(Clone, Debug, Default)]
pub struct WriterStats {
    /// 409 answers, each followed by a reload and a new attempt.
    pub conflicts: u64,
    /// Commit attempts with an unknown outcome (5xx, connection lost mid-request).
    pub unknown: u64,
    /// Requests that never reached a node (connection refused), and failed table loads.
    pub unreachable: u64,
}

impl WriterStats {
    fn add(&mut self, other: &WriterStats) {
        self.conflicts += other.conflicts;
        self.unknown += other.unknown;
        self.unreachable += other.unreachable;
    }
}

/// Backoff after a 409: a random pause below min * 2^attempt, at most max.
const BACKOFF_MIN_MS: u64 = 20;
const BACKOFF_MAX_MS: u64 = 640;

fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n.max(1))) as u64
}

/// Whether the request failed before reaching the server (so it certainly did nothing).
fn never_sent(e: &iceberg::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<reqwest::Error>() {
            return r.is_connect();
        }
        source = s.source();
    }
    false
}

/// One client: a `RestCatalog` per node, committing one-row appends with its own retries.
pub struct Writer {
    pub id: usize,
    catalogs: Vec<RestCatalog>,
    avoid_until: Vec<Instant>,
    ident: TableIdent,
    /// The table as last loaded or committed (the base of the next append).
    table: Option<Table>,
    node: usize,
    /// Move to the next node after each acknowledged commit.
    pub rotate: bool,
    /// Bounds of one append, retries included.
    pub append_timeout: Duration,
    pub max_attempts: u64,
    pub stats: WriterStats,
}

impl Writer {
    pub async fn new(id: usize, urls: &[String], ident: &TableIdent, first_node: usize) -> Self {
        let mut catalogs = Vec::new();
        for url in urls {
            catalogs.push(rest_catalog(url).await);
        }
        Self {
            id,
            avoid_until: vec![Instant::now(); urls.len()],
            catalogs,
            ident: ident.clone(),
            table: None,
            node: first_node % urls.len(),
            rotate: true,
            append_timeout: Duration::from_secs(60),
            max_attempts: 200,
            stats: WriterStats::default(),
        }
    }

    /// The next node after the current one that is not being avoided.
    fn switch_node(&mut self) {
        let n = self.catalogs.len();
        let now = Instant::now();
        self.node = (1..=n)
            .map(|d| (self.node + d) % n)
            .find(|&i| self.avoid_until[i] <= now)
            .unwrap_or((self.node + 1) % n);
    }

    fn avoid_current(&mut self, how_long: Duration) {
        self.avoid_until[self.node] = Instant::now() + how_long;
        self.switch_node();
    }

    async fn load(&mut self, deadline: Instant) -> Table {
        loop {
            match self.catalogs[self.node].load_table(&self.ident).await {
                Ok(t) => return t,
                Err(e) => {
                    self.stats.unreachable += 1;
                    println!(
                        "writer {} via node {}: load failed: {e}",
                        self.id, self.node
                    );
                    assert!(
                        Instant::now() < deadline,
                        "writer {}: no node could load the table: {e}",
                        self.id
                    );
                    let pause = if never_sent(&e) { 30 } else { 2 };
                    self.avoid_current(Duration::from_secs(pause));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Appends one file holding the row `(id, tag)` and returns once it is certainly
    /// committed, exactly once.
    pub async fn append(&mut self, id: i64, tag: &str) -> Ack {
        let started = Instant::now();
        let deadline = started + self.append_timeout;
        let mut base = match self.table.take() {
            Some(t) => t,
            None => self.load(deadline).await,
        };
        let file = write_row_file(&base, id, tag).await;
        let path = file.file_path().to_string();
        let mut maybe_committed = false;
        for attempt in 1..=self.max_attempts {
            assert!(
                Instant::now() < deadline,
                "writer {}: append of {tag} not done after {attempt} attempts in {:?} ({:?})",
                self.id,
                self.append_timeout,
                self.stats
            );
            let node = self.node;
            let ack = |snapshot_id, metadata_location| Ack {
                file: path.clone(),
                id,
                snapshot_id,
                metadata_location,
                node,
                started,
                acked: Instant::now(),
            };
            // `commit` reloads the table and applies the append to what it finds; after an
            // unknown outcome it first looks for the file there (the duplicate check).
            let tx = Transaction::new(&base);
            let action = tx.fast_append().with_check_duplicate(maybe_committed);
            let tx = action.add_data_files(vec![file.clone()]).apply(tx).unwrap();
            match tx.commit(&self.catalogs[node]).await {
                Ok(committed) => {
                    let snapshot = committed.metadata().current_snapshot_id();
                    assert!(snapshot.is_some(), "a committed append has a snapshot");
                    let location = committed.metadata_location().map(str::to_string);
                    self.table = Some(committed);
                    if self.rotate {
                        self.switch_node();
                    }
                    return ack(snapshot, location);
                }
                Err(e) if e.kind() == ErrorKind::CatalogCommitConflicts => {
                    self.stats.conflicts += 1;
                    let cap = (BACKOFF_MIN_MS << attempt.min(8)).min(BACKOFF_MAX_MS);
                    tokio::time::sleep(Duration::from_millis(random_below(cap))).await;
                }
                Err(e) if maybe_committed && e.kind() == ErrorKind::DataInvalid => {
                    // "already referenced by table": the unknown attempt did commit.
                    let table = self.load(deadline).await;
                    assert!(holds_file(&table, &path).await, "{path} is not there: {e}");
                    self.table = Some(table);
                    return ack(None, None);
                }
                Err(e) if never_sent(&e) => {
                    self.stats.unreachable += 1;
                    println!("writer {} via node {node}: not sent: {e}", self.id);
                    self.avoid_current(Duration::from_secs(30));
                }
                Err(e) => {
                    self.stats.unknown += 1;
                    maybe_committed = true;
                    println!("writer {} via node {node}: outcome unknown: {e}", self.id);
                    self.avoid_current(Duration::from_secs(2));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    base = self.load(deadline).await;
                }
            }
        }
        panic!(
            "writer {}: append of {tag} not done after {} attempts ({:?})",
            self.id, self.max_attempts, self.stats
        );
    }
}

/// A batch of concurrent writers: `writers` clients appending `per_writer` rows each to
/// one table, writer `w` starting at node `w`, rotating nodes after each commit. Row ids
/// and file names carry `round`, so several batches can write to one table.
#[derive(Clone)]
pub struct Batch {
    pub urls: Vec<String>,
    pub ident: TableIdent,
    pub round: usize,
    pub writers: usize,
    pub per_writer: usize,
    pub append_timeout: Duration,
    /// Counts acknowledged appends as they happen.
    pub acked: Arc<AtomicUsize>,
}

/// What a batch did.
pub struct BatchResult {
    pub stats: WriterStats,
    pub acks: Vec<Ack>,
    pub elapsed: Duration,
}

impl Batch {
    pub fn new(urls: Vec<String>, ident: &TableIdent, writers: usize, per_writer: usize) -> Self {
        Self {
            urls,
            ident: ident.clone(),
            round: 0,
            writers,
            per_writer,
            append_timeout: Duration::from_secs(90),
            acked: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs the writers in the background.
    pub fn spawn(&self) -> JoinHandle<BatchResult> {
        let batch = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..batch.writers {
                let b = batch.clone();
                tasks.push(tokio::spawn(async move {
                    let mut writer = Writer::new(w, &b.urls, &b.ident, w).await;
                    writer.append_timeout = b.append_timeout;
                    let mut acks = Vec::new();
                    for j in 0..b.per_writer {
                        let id = (b.round * 100_000 + w * 1000 + j) as i64;
                        let ack = writer.append(id, &format!("r{}-w{w}-{j}", b.round)).await;
                        b.acked.fetch_add(1, Ordering::SeqCst);
                        acks.push(ack);
                    }
                    (writer.stats, acks)
                }));
            }
            let mut result = BatchResult {
                stats: WriterStats::default(),
                acks: Vec::new(),
                elapsed: Duration::ZERO,
            };
            for task in tasks {
                let (stats, mut acks) = task.await.expect("every writer finishes its appends");
                result.stats.add(&stats);
                result.acks.append(&mut acks);
            }
            result.elapsed = started.elapsed();
            result
        })
    }

    /// Runs the writers to the end and prints a summary.
    pub async fn run(&self) -> BatchResult {
        let result = self.spawn().await.expect("the batch runs");
        result.print(self);
        result
    }

    /// Waits until `n` appends of this batch are acknowledged.
    pub async fn wait_acked(&self, n: usize) {
        while self.acked.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl BatchResult {
    pub fn print(&self, batch: &Batch) {
        let slowest = self.acks.iter().map(|a| a.acked - a.started).max();
        println!(
            "round {}: {} appends by {} clients through {} nodes in {:.2?}: {} 409s retried, \
             {} unknown outcomes ({} settled as committed by finding the file), {} requests \
             that reached no node; slowest append {slowest:.2?}",
            batch.round,
            self.acks.len(),
            batch.writers,
            batch.urls.len(),
            self.elapsed,
            self.stats.conflicts,
            self.stats.unknown,
            self.acks.iter().filter(|a| a.snapshot_id.is_none()).count(),
            self.stats.unreachable
        );
        assert_eq!(self.acks.len(), batch.writers * batch.per_writer);
    }
}
