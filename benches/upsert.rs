//! Upsert-writer benchmark (not a test). A generated stream of upserts (10 columns, half
//! of each checkpoint updates existing keys, half inserts new ones) is written
//!
//! - by Floe's `UpsertWriter` into a 16-bucket upsert table of a real `floe serve`
//!   (release build), one commit per checkpoint, each committing while the next is
//!   written;
//! - as plain Parquet with arrow-rs's `ArrowWriter` (same compression), the physical
//!   limit: one file per checkpoint on one thread, and split over every core.
//!
//! Only the writing is timed (generation is not). Each measurement runs in its own child
//! process, so the peak memory (VmHWM) printed is its own; rounds alternate the modes and
//! the medians are printed with their ratios. All files stay until the last round is done,
//! so no round pays for deleting another's (see `support::SCRATCH`).
//!
//! Run: `cargo bench --bench upsert -- [--rows 10000000] [--checkpoint-rows 100000]
//! [--rounds 3] [--buckets 16]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_client::RestClient;
use floe_upsert::{CheckpointOutcome, UpsertOptions, UpsertWriter};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use support::{checkpoint, create_table, keeps_files, peak_memory_mib, start_node, SCRATCH};

mod support;

struct Args {
    rows: usize,
    checkpoint_rows: usize,
    rounds: usize,
    buckets: u32,
    mode: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        rows: 10_000_000,
        checkpoint_rows: 100_000,
        rounds: 3,
        buckets: 16,
        mode: None,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--rows" => a.rows = value.parse().expect("--rows N"),
            "--checkpoint-rows" => a.checkpoint_rows = value.parse().expect("--checkpoint-rows N"),
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            "--buckets" => a.buckets = value.parse().expect("--buckets N"),
            "--mode" => a.mode = Some(value),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn parquet_props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
        .build()
}

/// Plain Parquet: each checkpoint one file per thread. Answers the time spent writing.
fn run_parquet(a: &Args, threads: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut spent = Duration::ZERO;
    for n in 0..a.rows / a.checkpoint_rows {
        let batch = checkpoint(n, a.checkpoint_rows);
        let start = Instant::now();
        let per = batch.num_rows().div_ceil(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let part = batch.slice(t * per, per.min(batch.num_rows() - t * per));
                let path = dir.path().join(format!("{n}-{t}.parquet"));
                s.spawn(move || {
                    let file = std::fs::File::create(path).unwrap();
                    let mut w =
                        ArrowWriter::try_new(file, part.schema(), Some(parquet_props())).unwrap();
                    w.write(&part).unwrap();
                    w.close().unwrap();
                });
            }
        });
        spent += start.elapsed();
    }
    if keeps_files() {
        let _ = dir.keep();
    }
    spent
}

async fn run_floe(a: &Args) -> Duration {
    let mut node = start_node(&[]);
    if keeps_files() {
        node.keep_files();
    }
    let client = RestClient::connect(&node.url).await.unwrap();
    let ident = create_table(&client, "upserts", a.buckets).await;
    let options = UpsertOptions {
        writer_id: Some("bench".into()),
        ..Default::default()
    };
    let mut writer = UpsertWriter::open(Arc::new(client), &ident, options)
        .await
        .unwrap();
    let (mut writing, mut waiting) = (Duration::ZERO, Duration::ZERO);
    let committed = |outcome: Option<CheckpointOutcome>| {
        assert!(matches!(
            outcome,
            None | Some(CheckpointOutcome::Committed(_))
        ));
    };
    for n in 0..a.rows / a.checkpoint_rows {
        let batch = checkpoint(n, a.checkpoint_rows);
        let start = Instant::now();
        writer.write(&batch).await.unwrap();
        let wrote = Instant::now();
        // Each checkpoint commits while the next one is written (the Flink committer's
        // way); starting a commit first waits for the one before.
        committed(writer.start_commit(Some(n as i64 + 1), None).await.unwrap());
        writing += wrote - start;
        waiting += wrote.elapsed();
    }
    let last = Instant::now();
    committed(writer.finish_commit().await.unwrap());
    waiting += last.elapsed();
    eprintln!("floe: write {writing:?}, waiting for commits {waiting:?}");
    writing + waiting
}

/// Runs one measurement in a child process: `(seconds, peak MiB)`.
fn measure(a: &Args, mode: &str) -> (f64, f64) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("TMPDIR", std::env::var_os(SCRATCH).expect("set by main"))
        .args(["--mode", mode])
        .args(["--rows", &a.rows.to_string()])
        .args(["--checkpoint-rows", &a.checkpoint_rows.to_string()])
        .args(["--buckets", &a.buckets.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("result "))
        .expect("result line");
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let a = args();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(mode) = &a.mode {
        let spent = match mode.as_str() {
            "parquet-1" => run_parquet(&a, 1),
            "parquet-all" => run_parquet(&a, cores),
            "floe" => tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(run_floe(&a)),
            other => panic!("unknown mode {other}"),
        };
        println!("result {} {}", spent.as_secs_f64(), peak_memory_mib());
        return;
    }
    // Every measurement's files stay until the last round is done (see `SCRATCH`).
    let scratch = tempfile::tempdir().unwrap();
    std::env::set_var(SCRATCH, scratch.path());
    let modes = ["parquet-1", "parquet-all", "floe"];
    println!(
        "upserts: {} rows, {} per checkpoint, 10 columns, half updates; {} buckets; zstd(1); {cores} cores; {} rounds",
        a.rows, a.checkpoint_rows, a.buckets, a.rounds
    );
    let mut rates = vec![Vec::new(); modes.len()];
    let mut peaks = vec![Vec::new(); modes.len()];
    for round in 1..=a.rounds {
        for (m, mode) in modes.iter().enumerate() {
            let (secs, peak) = measure(&a, mode);
            let rate = a.rows as f64 / secs;
            println!(
                "round {round} {mode:<12} {rate:>12.0} rows/s  {secs:>7.2} s  peak {peak:>7.0} MiB"
            );
            rates[m].push(rate);
            peaks[m].push(peak);
        }
    }
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    println!("median rows/s:");
    for (m, mode) in modes.iter().enumerate() {
        println!(
            "  {mode:<12} {:>12.0} rows/s  peak {:>7.0} MiB",
            medians[m],
            median(peaks[m].clone())
        );
    }
    println!(
        "floe / parquet-1 = {:.2}, floe / parquet-all = {:.2}",
        medians[2] / medians[0],
        medians[2] / medians[1]
    );
}
