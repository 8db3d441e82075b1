//! Compaction benchmark (not a test). A 16-bucket upsert table is written by Floe's
//! `UpsertWriter` into a release `floe serve`: `--checkpoints` checkpoints of the upsert
//! stream of `benches/upsert.rs` (half updates), so many small data files with equality
//! and position deletes. Then, rounds alternating, side by side:
//!
//! - copying the table's data files once with plain arrow-rs (read every file, write
//!   128 MiB files per bucket, zstd level 1), on one thread and on two: the physical limit;
//! - Floe's compactor on an identical table (default options: 128 MiB target).
//!
//! Throughput is MB/s of input data files. Reads by DuckDB (`count(*)` and a scan of every
//! column, medians of 3) of the table before compaction, after it, and of a table holding
//! the same rows written fresh (one pass, no deletes), come from `benches/duckdb_scan.py`.
//!
//! Run: `cargo bench --bench compaction -- [--checkpoints 125] [--checkpoint-rows 220000]
//! [--rounds 3] [--buckets 16]`

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use floe::rest_client::RestClient;
use floe::rest_table::RestTable;
use floe::upsert::layout::new_table_layout;
use floe::upsert::row_delta::{plan_commit, write_row_delta_manifest_list, RowDelta};
use floe::upsert::{CheckpointOutcome, UpsertOptions, UpsertWriter};
use floe_compaction::parquet_props::parquet_properties;
use floe_compaction::planner::PartitionKey;
use floe_compaction::rewrite::{rewrite_group, RewriteSettings};
use floe_compaction::run::{compact, CompactionRequest, Silent};
use floe_compaction::table_files::live_entries_with_spec;
use futures::TryStreamExt;
use iceberg::io::FileIO;
use iceberg::spec::Struct;
use iceberg::{NamespaceIdent, TableIdent};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use support::{checkpoint, start_node};

mod support;

struct Args {
    checkpoints: usize,
    checkpoint_rows: usize,
    rounds: usize,
    buckets: u32,
}

fn args() -> Args {
    let mut a = Args {
        checkpoints: 125,
        checkpoint_rows: 220_000,
        rounds: 3,
        buckets: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--checkpoints" => a.checkpoints = value().parse().expect("--checkpoints N"),
            "--checkpoint-rows" => {
                a.checkpoint_rows = value().parse().expect("--checkpoint-rows N")
            }
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--buckets" => a.buckets = value().parse().expect("--buckets N"),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

async fn create(client: &RestClient, name: &str, buckets: u32) -> TableIdent {
    let ns = NamespaceIdent::new("bench".to_string());
    client.ensure_namespace(&ns).await.unwrap();
    let ident = TableIdent::new(ns, name.to_string());
    let (schema, spec) =
        new_table_layout(&support::schema(), &["id".to_string()], buckets).unwrap();
    let props = HashMap::from([("format-version".to_string(), "2".to_string())]);
    client
        .create_table(&ident, &schema, &spec, &props)
        .await
        .unwrap();
    ident
}

/// The input table: every checkpoint of the stream, one commit each.
async fn build(client: &RestClient, name: &str, a: &Args) -> TableIdent {
    let ident = create(client, name, a.buckets).await;
    let options = UpsertOptions {
        writer_id: Some("bench".into()),
        ..Default::default()
    };
    let mut writer = UpsertWriter::open(client.clone(), &ident, options)
        .await
        .unwrap();
    for n in 0..a.checkpoints {
        writer
            .write(&checkpoint(n, a.checkpoint_rows))
            .await
            .unwrap();
        let outcome = writer.commit(Some(n as i64 + 1), None).await.unwrap();
        assert!(
            matches!(outcome, CheckpointOutcome::Committed(_)),
            "{outcome:?}"
        );
    }
    ident
}

/// Live data files by partition (path, bytes), and counts of (data, eq, pos) files.
async fn data_files(
    client: &RestClient,
    ident: &TableIdent,
) -> (BTreeMap<String, Vec<(String, u64)>>, [usize; 3]) {
    let table = client.load_table(ident).await.unwrap();
    let entries = live_entries_with_spec(&FileIO::new_with_fs(), &table.metadata, None)
        .await
        .unwrap();
    let mut out: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    let mut counts = [0usize; 3];
    for (_, e) in entries {
        counts[e.content_type() as usize] += 1;
        if e.content_type() == iceberg::spec::DataContentType::Data {
            out.entry(format!("{:?}", e.data_file().partition()))
                .or_default()
                .push((e.file_path().to_string(), e.file_size_in_bytes()));
        }
    }
    (out, counts)
}

/// Copies the partitions' files into 128 MiB files under `dir` with `threads` threads.
fn copy(parts: &BTreeMap<String, Vec<(String, u64)>>, dir: &Path, threads: usize) {
    let parts: Vec<&Vec<(String, u64)>> = parts.values().collect();
    let props = parquet_properties(&HashMap::new()).unwrap();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (parts, props) = (&parts, props.clone());
            s.spawn(move || {
                for (p, files) in parts.iter().enumerate().filter(|(p, _)| p % threads == t) {
                    let mut n = 0;
                    let mut writer: Option<ArrowWriter<std::fs::File>> = None;
                    for (path, _) in files.iter() {
                        let reader = ParquetRecordBatchReaderBuilder::try_new(
                            std::fs::File::open(path).unwrap(),
                        )
                        .unwrap()
                        .build()
                        .unwrap();
                        for batch in reader {
                            let batch = batch.unwrap();
                            let w = writer.get_or_insert_with(|| {
                                n += 1;
                                let file =
                                    std::fs::File::create(dir.join(format!("p{p}-{n}.parquet")))
                                        .unwrap();
                                ArrowWriter::try_new(file, batch.schema(), Some(props.clone()))
                                    .unwrap()
                            });
                            w.write(&batch).unwrap();
                            if w.bytes_written() + w.in_progress_size() >= 128 << 20 {
                                writer.take().unwrap().close().unwrap();
                            }
                        }
                    }
                    if let Some(w) = writer {
                        w.close().unwrap();
                    }
                }
            });
        }
    });
}

/// A table with the live rows of `from` written once, without deletes.
async fn fresh_copy(client: &RestClient, from: &TableIdent, buckets: u32) -> TableIdent {
    let ident = create(client, "fresh", buckets).await;
    let source = client.load_table(from).await.unwrap();
    let target = client.load_table(&ident).await.unwrap();
    let file_io = FileIO::new_with_fs();
    let table = source.to_table(file_io.clone()).unwrap();
    let tasks: Vec<_> = table
        .scan()
        .select_all()
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut by_partition: HashMap<Struct, Vec<_>> = HashMap::new();
    for task in tasks {
        by_partition
            .entry(task.partition.clone().unwrap())
            .or_default()
            .push(task);
    }
    let settings = RewriteSettings {
        file_io: file_io.clone(),
        metadata: target.metadata.clone(),
        parquet: parquet_properties(&HashMap::new()).unwrap(),
        target_file_size: 128 << 20,
        key_columns: vec![],
        sort_budget_bytes: 128 << 20,
        sequence_numbers: Default::default(),
    };
    let mut delta = RowDelta::default();
    for (value, tasks) in by_partition {
        let key = PartitionKey {
            spec_id: target.metadata.default_partition_spec_id(),
            value,
        };
        delta
            .data_files
            .extend(rewrite_group(&settings, &key, tasks).await.unwrap().files);
    }
    let written = delta
        .write_manifests(&file_io, &target.metadata)
        .await
        .unwrap();
    let list = write_row_delta_manifest_list(&file_io, &target.metadata, &written, 0)
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let (req, upd) = plan_commit(&target.metadata, &written, &delta, list, now);
    client.commit(&ident, &req, &upd).await.unwrap();
    ident
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// DuckDB's read times of the tables' current metadata files, as the script prints them.
fn duckdb_reads(locations: &[(&str, String)]) -> String {
    let venv = Command::new("scripts/python-env.sh").output().unwrap();
    let venv = String::from_utf8_lossy(&venv.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string();
    let mut cmd = Command::new(Path::new(&venv).join("bin/python"));
    cmd.arg("benches/duckdb_scan.py");
    for (label, loc) in locations {
        cmd.arg(format!("{label}={loc}"));
    }
    let out = cmd.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn main() {
    let a = args();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let node = start_node(&[]);
        let client = RestClient::connect(&node.url).await.unwrap();
        let started = Instant::now();
        let mut tables = Vec::new();
        for r in 0..a.rounds {
            tables.push(build(&client, &format!("input{r}"), &a).await);
        }
        let (parts, counts) = data_files(&client, &tables[0]).await;
        let input: u64 = parts.values().flatten().map(|(_, b)| b).sum();
        println!(
            "input: {} data files ({:.1} MB), {} equality-delete files, {} position-delete files; built {} tables in {:.0} s",
            counts[0], input as f64 / 1e6, counts[2], counts[1], a.rounds, started.elapsed().as_secs_f64()
        );
        let mut rates: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let before = client.load_table(&tables[0]).await.unwrap().metadata_location;
        for (r, ident) in tables.iter().enumerate() {
            for threads in [1, 2] {
                let dir = tempfile::tempdir().unwrap();
                let t = Instant::now();
                copy(&parts, dir.path(), threads);
                let mbs = input as f64 / 1e6 / t.elapsed().as_secs_f64();
                rates.entry(if threads == 1 { "copy 1 thread" } else { "copy 2 threads" }).or_default().push(mbs);
            }
            let table = Arc::new(RestTable { client: client.clone(), ident: ident.clone() });
            let t = Instant::now();
            let report = compact(table, &CompactionRequest::default(), Arc::new(Silent)).await.unwrap();
            let secs = t.elapsed().as_secs_f64();
            let planned: u64 = report.planned.iter().map(|g| g.input_bytes).sum();
            assert_eq!(report.committed(), report.planned.len(), "{report:?}");
            rates.entry("floe compaction").or_default().push(planned as f64 / 1e6 / secs);
            let (_, after) = data_files(&client, ident).await;
            println!(
                "round {r}: compaction of {} groups, {:.1} MB in {secs:.1} s -> {} data files, {} delete files",
                report.planned.len(), planned as f64 / 1e6, after[0], after[1] + after[2]
            );
        }
        let medians: BTreeMap<&str, f64> = rates.iter().map(|(k, v)| (*k, median(v.clone()))).collect();
        println!("\n| mode | median MB/s | rounds (MB/s) |\n| --- | --- | --- |");
        for (k, v) in &rates {
            let list: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
            println!("| {k} | {:.1} | {} |", medians[k], list.join(" / "));
        }
        let floe = medians["floe compaction"];
        println!(
            "Floe compaction at {:.2} of one-thread and {:.2} of two-thread arrow-rs copying",
            floe / medians["copy 1 thread"],
            floe / medians["copy 2 threads"]
        );
        let after = client.load_table(&tables[0]).await.unwrap().metadata_location;
        let fresh = fresh_copy(&client, &tables[0], a.buckets).await;
        let fresh = client.load_table(&fresh).await.unwrap().metadata_location;
        println!("\nDuckDB reads (median of 3):");
        print!("{}", duckdb_reads(&[("before", before), ("compacted", after), ("fresh", fresh)]));
        println!(
            "command: cargo bench --bench compaction -- --checkpoints {} --checkpoint-rows {} --rounds {} --buckets {}",
            a.checkpoints, a.checkpoint_rows, a.rounds, a.buckets
        );
    });
}
