//! The reading side of the compaction benchmark: a table of the compacted rows written
//! fresh, to compare reads with, DuckDB's timings of tables (`benches/duckdb_scan.py`), and
//! `floe verify`'s digest of the same tables.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use floe_client::RestClient;
use floe_compaction::{rewrite_group, RewriteSettings};
use floe_table::properties::parquet_properties;
use floe_table::{Partition, RowDelta};
use floe_verify::{digest_snapshot, snapshot_of, DigestPlan};
use futures::TryStreamExt;
use iceberg::spec::Struct;
use iceberg::TableIdent;

use super::support::create_table;
use super::TARGET_FILE_SIZE;

/// A table with the live rows of `from` written once, without deletes, in one commit.
pub async fn fresh_copy(client: &RestClient, from: &TableIdent, buckets: u32) -> TableIdent {
    let ident = create_table(client, "fresh", buckets).await;
    let source = client.load_table(from).await.unwrap();
    let target = client.load_table(&ident).await.unwrap();
    let table = source.to_table().unwrap();
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
    let mut by_partition: BTreeMap<String, (Struct, Vec<_>)> = BTreeMap::new();
    for task in tasks {
        assert!(task.deletes.is_empty(), "the compacted table has deletes");
        let value = task.partition.clone().unwrap();
        by_partition
            .entry(format!("{value:?}"))
            .or_insert_with(|| (value, Vec::new()))
            .1
            .push(task);
    }
    let settings = RewriteSettings {
        file_io: target.file_io.clone(),
        metadata: target.metadata.clone(),
        parquet: parquet_properties(&HashMap::new()).unwrap(),
        target_file_size: TARGET_FILE_SIZE,
        key_columns: vec![],
        sort_budget_bytes: 128 << 20,
        sequence_numbers: Default::default(),
        verify: false,
        fault: None,
    };
    let mut delta = RowDelta::new();
    for (_, (value, mut tasks)) in by_partition {
        tasks.sort_by(|x, y| x.data_file_path.cmp(&y.data_file_path));
        let partition = Partition {
            spec_id: target.metadata.default_partition_spec_id(),
            value,
        };
        let rewritten = rewrite_group(&settings, &partition, tasks).await.unwrap();
        delta.add_files(rewritten.files);
    }
    floe_table::commit(client, target, &mut delta)
        .await
        .unwrap();
    ident
}

/// One query's DuckDB timing.
pub struct Read {
    pub rows: i64,
    pub seconds: f64,
    pub runs: u32,
    pub status: String,
}

impl Read {
    pub fn text(&self) -> String {
        match self.status.as_str() {
            "ok" => format!("{:.3} s (median of {})", self.seconds, self.runs),
            "timeout" => format!("> {:.0} s (interrupted)", self.seconds),
            other => format!("failed after {:.1} s: {other}", self.seconds),
        }
    }
}

pub fn venv_python() -> PathBuf {
    let out = Command::new("scripts/python-env.sh").output().unwrap();
    assert!(out.status.success(), "scripts/python-env.sh failed");
    let venv = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string();
    Path::new(&venv).join("bin/python")
}

/// DuckDB's `count(*)` and full scan of the tables of `metadata` (metadata files), their
/// runs taking turns in one process: per table, the count and the scan.
pub fn duckdb_reads(
    python: &Path,
    budget_seconds: f64,
    memory_gib: u32,
    metadata: &[&str],
) -> Vec<[Read; 2]> {
    let out = Command::new(python)
        .arg("benches/duckdb_scan.py")
        .args(metadata)
        .args(["--runs", "5"])
        .args(["--budget", &budget_seconds.to_string()])
        .args(["--memory-gib", &memory_gib.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut reads = text.lines().filter_map(|l| {
        let v: Vec<&str> = l.strip_prefix("result ")?.splitn(5, ' ').collect();
        Some(Read {
            rows: v[1].parse().ok()?,
            seconds: v[2].parse().ok()?,
            runs: v[3].parse().ok()?,
            status: v[4].to_string(),
        })
    });
    let status = format!(
        "duckdb process ended: {}; {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
    let lost = || Read {
        rows: -1,
        seconds: 0.0,
        runs: 0,
        status: format!("error:{status}"),
    };
    metadata
        .iter()
        .map(|_| {
            [
                reads.next().unwrap_or_else(lost),
                reads.next().unwrap_or_else(lost),
            ]
        })
        .collect()
}

/// `floe verify`'s digest of each table of `tables` (its current snapshot, every column,
/// partitions read in parallel, one per core): seconds per run, the tables taking turns
/// run by run.
pub async fn verify_reads(
    client: &RestClient,
    tables: &[TableIdent],
    runs: usize,
) -> Vec<Vec<f64>> {
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut seconds = vec![Vec::new(); tables.len()];
    for _ in 0..runs {
        for (ident, out) in tables.iter().zip(&mut seconds) {
            let table = client.load_table(ident).await.unwrap();
            let started = std::time::Instant::now();
            let snapshot = snapshot_of(&table, None).unwrap();
            let plan = DigestPlan::of_table(&table, snapshot.as_ref(), None, false).unwrap();
            let digests = digest_snapshot(&table, snapshot.as_ref(), plan.into(), parallel)
                .await
                .unwrap();
            out.push(started.elapsed().as_secs_f64());
            assert!(digests.whole.rows() > 0, "{ident}: no rows digested");
        }
    }
    seconds
}
