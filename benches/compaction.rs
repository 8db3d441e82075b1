//! Compaction benchmark (not a test).
//!
//! The input: a 16-bucket upsert table written by Floe's `UpsertWriter` into a release
//! `floe serve`, `--checkpoints` commits of `--checkpoint-rows` rows of the upsert stream
//! of `benches/upsert.rs` (10 columns; half of each checkpoint updates keys written
//! before, some keys twice in one checkpoint): so 16 small data files per checkpoint, with
//! equality deletes (the updates) and position deletes (the keys repeated within a
//! checkpoint). The defaults make 2,000 data files of about 0.5 MB, 1 GB in all. One
//! identical table (same stream) is built per round up front; building is not timed.
//!
//! Then, each round in its own child processes (so the peak memory printed is the
//! measurement's own), order rotating from round to round:
//!
//! - `copy-1`, `copy-2`: the physical limit. Every live data file of the table read with
//!   arrow-rs's `ParquetRecordBatchReaderBuilder` and written again with `ArrowWriter`
//!   into 128 MiB files per bucket (zstd level 1, the writer properties of the table:
//!   `parquet_properties`), on one thread, and on two (buckets split between them). No
//!   deletes are applied: this is the cost of reading and writing the bytes once.
//! - `floe`: Floe's compactor, `compact()` with the default options (128 MiB target,
//!   4 groups at a time, each group verified) through the REST catalog, on that round's
//!   table; `floe-unverified` the same with `verify=false`, for what verification costs.
//!   Each starts from the table as written (the other's compaction rolled back).
//!
//! Before those, each round converts its table's equality deletes into position deletes
//! (`convert`: `convert_deletes()`, in a child process too), timed against the round's
//! compaction of the same table: the conversion's snapshot is then rolled back (`main` set
//! to the snapshot before it), so the compaction starts from the table as written. The
//! converted metadata file stays readable for DuckDB.
//!
//! Throughput is MB/s (10^6 bytes) of input data files, the same bytes for all three.
//!
//! Reads: DuckDB (`benches/duckdb_scan.py`: `count(*)` and a scan of every column through
//! `iceberg_scan`, medians of up to 5 runs after a warm-up, within a time and memory
//! budget) of the table after compaction and of a table holding the same rows written
//! fresh and of the table after `convert`, their runs taking turns, and apart of the
//! table before compaction. The fresh
//! table is the compacted table's rows read and written once by `rewrite_group` into
//! a new table of the same schema and buckets, committed as one append (no deletes, one
//! snapshot).
//!
//! Run: `cargo bench --bench compaction -- [--checkpoints 125 | --files 2000]
//! [--checkpoint-rows 240000] [--buckets 16] [--rounds 3] [--read-budget 120]
//! [--read-memory-gib 8] [--no-reads | --no-before-read] [--quick]` (`--quick`: 10 checkpoints of 50,000
//! rows, 1 round).

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use args::{args, Args};
use files::{read_list, table_files, write_list, Files};
use floe_client::RestClient;
use floe_compaction::{compact, convert_deletes, CompactionRequest, ConversionRequest, Silent};
use floe_table::properties::parquet_properties;
use floe_table::{TableCatalog, TableCommit};
use floe_upsert::{CheckpointOutcome, UpsertOptions, UpsertWriter};
use iceberg::spec::{SnapshotReference, SnapshotRetention, MAIN_BRANCH};
use iceberg::TableIdent;
use iceberg::TableUpdate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use reads::{duckdb_reads, fresh_copy, venv_python, verify_reads};
use support::{checkpoint, create_table, namespace, peak_memory_mib, start_node};

#[path = "compaction/args.rs"]
mod args;
#[path = "compaction/files.rs"]
mod files;
#[path = "compaction/reads.rs"]
mod reads;
mod support;

const TARGET_FILE_SIZE: usize = 128 << 20;

/// The input table: every checkpoint of the stream, one commit each.
async fn build(client: &RestClient, name: &str, a: &Args) -> TableIdent {
    let ident = create_table(client, name, a.buckets).await;
    let options = UpsertOptions {
        writer_id: Some("bench".into()),
        ..Default::default()
    };
    let mut writer = UpsertWriter::open(Arc::new(client.clone()), &ident, options)
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

/// Child: copies the partitions' files into 128 MiB files under a temp dir with
/// `threads` threads (partitions split between them). Answers the input bytes.
fn run_copy(a: &Args) -> u64 {
    let parts = read_list(&a.list);
    let input: u64 = parts
        .iter()
        .flatten()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let props = parquet_properties(&HashMap::new()).unwrap();
    let threads = a.threads;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (parts, props) = (&parts, props.clone());
            s.spawn(move || {
                for (p, files) in parts.iter().enumerate().filter(|(p, _)| p % threads == t) {
                    let mut n = 0;
                    let mut writer: Option<ArrowWriter<std::fs::File>> = None;
                    for path in files {
                        let reader = ParquetRecordBatchReaderBuilder::try_new(
                            std::fs::File::open(path).unwrap(),
                        )
                        .unwrap()
                        // The batch size Floe's compactor reads with.
                        .with_batch_size(8192)
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
                            if w.bytes_written() + w.in_progress_size() >= TARGET_FILE_SIZE {
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
    input
}

/// Child: compacts the table. Answers the input bytes, and prints what it did.
async fn run_floe(a: &Args) -> u64 {
    let client = RestClient::connect(&a.url).await.unwrap();
    let ident = TableIdent::new(namespace(), a.table.clone());
    let request = CompactionRequest {
        overrides: vec![("verify".into(), a.verify.to_string())],
        ..Default::default()
    };
    let report = compact(Arc::new(client), &ident, &request, Arc::new(Silent))
        .await
        .unwrap();
    assert_eq!(
        report.committed(),
        report.planned.len(),
        "groups not committed: {:?}",
        report.groups
    );
    let input: u64 = report.planned.iter().map(|g| g.input_bytes).sum();
    let records: u64 = report.groups.iter().map(|g| g.output_records).sum();
    let mut slowest: Vec<f64> = report
        .groups
        .iter()
        .map(|g| g.elapsed.as_secs_f64())
        .collect();
    slowest.sort_by(|x, y| y.partial_cmp(x).unwrap());
    println!(
        "floe: {} groups ({} data files, {} delete-file references), {} output files, {records} rows; group times {:.1} s (longest) .. {:.1} s (shortest)",
        report.planned.len(),
        report.planned.iter().map(|g| g.data_files).sum::<usize>(),
        report.planned.iter().map(|g| g.delete_files).sum::<usize>(),
        report.groups.iter().map(|g| g.output_files).sum::<usize>(),
        slowest.first().copied().unwrap_or(0.0),
        slowest.last().copied().unwrap_or(0.0),
    );
    assert_eq!(records, a.live_rows(), "compacted rows");
    input
}

/// Child: converts the table's equality deletes into position deletes, and prints what it
/// did. Answers 0 (the conversion reads key columns, not the data bytes).
async fn run_convert(a: &Args) -> u64 {
    let client = RestClient::connect(&a.url).await.unwrap();
    let ident = TableIdent::new(namespace(), a.table.clone());
    let report = convert_deletes(Arc::new(client), &ident, &ConversionRequest::default())
        .await
        .unwrap();
    assert_eq!(
        report.committed(),
        report.partitions.len(),
        "partitions not converted: {:?}",
        report.partitions
    );
    let sum = |f: fn(&floe_compaction::PartitionReport) -> u64| -> u64 {
        report.partitions.iter().map(f).sum()
    };
    println!(
        "convert: {} partitions, {} equality-delete files over {} data files -> {} position deletes in {} files",
        report.partitions.len(),
        sum(|p| p.equality_delete_files as u64),
        sum(|p| p.data_files_read as u64),
        sum(|p| p.position_deletes),
        sum(|p| p.position_delete_files as u64),
    );
    0
}

/// Sets the table's `main` back to `snapshot_id`.
async fn roll_back(client: &RestClient, ident: &TableIdent, snapshot_id: i64) {
    let retention = SnapshotRetention::branch(None, None, None);
    let updates = vec![TableUpdate::SetSnapshotRef {
        ref_name: MAIN_BRANCH.to_string(),
        reference: SnapshotReference::new(snapshot_id, retention),
    }];
    let commit = TableCommit {
        requirements: vec![],
        updates,
    };
    client.commit_table(ident, commit).await.unwrap();
}

/// Runs one measurement in a child process: `(seconds, input bytes, peak MiB)`.
fn measure(mode: &str, extra: &[String]) -> (f64, u64, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--mode", mode])
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in text.lines().filter(|l| !l.starts_with("result ")) {
        println!("    {line}");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("result "))
        .expect("result line");
    let v: Vec<&str> = line.split_whitespace().skip(1).collect();
    (
        v[0].parse().unwrap(),
        v[1].parse().unwrap(),
        v[2].parse().unwrap(),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let a = args();
    if let Some(mode) = a.mode.clone() {
        let start = Instant::now();
        let input = match mode.as_str() {
            "copy" => run_copy(&a),
            "floe" => tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(run_floe(&a)),
            "convert" => tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(run_convert(&a)),
            other => panic!("unknown mode {other}"),
        };
        println!(
            "result {} {input} {}",
            start.elapsed().as_secs_f64(),
            peak_memory_mib()
        );
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    println!(
        "compaction benchmark: {} checkpoints of {} rows (10 columns, half updates), {} buckets, {} rounds, {cores} cores",
        a.checkpoints, a.checkpoint_rows, a.buckets, a.rounds
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let node = start_node(&[]);
    let client = runtime.block_on(RestClient::connect(&node.url)).unwrap();
    let mut tables = Vec::new();
    for r in 0..a.rounds {
        let t = Instant::now();
        tables.push(runtime.block_on(build(&client, &format!("input{r}"), &a)));
        println!("built table input{r} in {:.0} s", t.elapsed().as_secs_f64());
    }
    let inputs: Vec<Files> = tables
        .iter()
        .map(|t| runtime.block_on(table_files(&client, t)))
        .collect();
    println!("input table: {}", inputs[0].describe());
    for (r, files) in inputs.iter().enumerate() {
        // Delete files name data files, whose paths differ in length from table to table.
        let shape = |f: &Files| f.counts.map(|(n, _, rows)| (n, rows));
        assert_eq!(shape(files), shape(&inputs[0]), "table input{r} differs");
        assert_eq!(
            files.data_bytes(),
            inputs[0].data_bytes(),
            "table input{r} differs"
        );
    }
    let before = runtime
        .block_on(client.load_table(&tables[0]))
        .unwrap()
        .metadata_location;

    let lists = tempfile::tempdir().unwrap();
    let modes = ["copy-1", "copy-2", "floe", "floe-unverified"];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut peaks: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let (mut convert_secs, mut convert_peaks, mut compact_secs, mut unverified_secs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut converted = None;
    for (r, ident) in tables.iter().enumerate() {
        let list = lists.path().join(format!("input{r}.txt"));
        write_list(&inputs[r], &list);
        let table_args = |ident: &TableIdent| -> Vec<String> {
            vec![
                "--url".into(),
                node.url.clone(),
                "--table".into(),
                ident.name().to_string(),
                "--checkpoints".into(),
                a.checkpoints.to_string(),
                "--checkpoint-rows".into(),
                a.checkpoint_rows.to_string(),
            ]
        };
        let written = runtime.block_on(client.load_table(ident)).unwrap();
        let (secs, _, peak) = measure("convert", &table_args(ident));
        println!(
            "round {} convert {secs:>7.1} s  peak {peak:>6.0} MiB",
            r + 1
        );
        convert_secs.push(secs);
        convert_peaks.push(peak);
        let after_convert = runtime.block_on(client.load_table(ident)).unwrap();
        converted.get_or_insert(after_convert.metadata_location);
        let start = written
            .metadata
            .current_snapshot_id()
            .expect("a written table");
        runtime.block_on(roll_back(&client, ident, start));
        for k in 0..modes.len() {
            let m = (k + r) % modes.len();
            let extra: Vec<String> = match modes[m] {
                "floe" => table_args(ident),
                "floe-unverified" => [table_args(ident), vec!["--no-verify".into()]].concat(),
                copy => vec![
                    "--list".into(),
                    list.display().to_string(),
                    "--threads".into(),
                    copy.trim_start_matches("copy-").into(),
                ],
            };
            let mode = if modes[m].starts_with("floe") {
                // Each compaction starts from the table as written.
                runtime.block_on(roll_back(&client, ident, start));
                "floe"
            } else {
                "copy"
            };
            let (secs, input, peak) = measure(mode, &extra);
            assert_eq!(input, inputs[r].data_bytes(), "{} input bytes", modes[m]);
            let rate = input as f64 / 1e6 / secs;
            println!(
                "round {} {:<7} {rate:>7.1} MB/s  {secs:>7.1} s  peak {peak:>6.0} MiB",
                r + 1,
                modes[m]
            );
            rates[m].push(rate);
            peaks[m].push(peak);
            match modes[m] {
                "floe" => compact_secs.push(secs),
                "floe-unverified" => unverified_secs.push(secs),
                _ => {}
            }
        }
        let after = runtime.block_on(table_files(&client, ident));
        println!("  compacted input{r}: {}", after.describe());
    }
    let medians: Vec<f64> = rates.iter().map(|v| median(v.clone())).collect();

    let mut reads = Vec::new();
    let mut verify_times = Vec::new();
    if a.reads {
        let after = runtime
            .block_on(client.load_table(&tables[0]))
            .unwrap()
            .metadata_location;
        let t = Instant::now();
        let fresh = runtime.block_on(fresh_copy(&client, &tables[0], a.buckets));
        println!(
            "fresh table written in {:.0} s: {}",
            t.elapsed().as_secs_f64(),
            runtime.block_on(table_files(&client, &fresh)).describe()
        );
        let fresh_ident = fresh;
        let fresh = runtime
            .block_on(client.load_table(&fresh_ident))
            .unwrap()
            .metadata_location;
        let python = venv_python();
        // Fresh and compacted side by side; the table before compaction apart, since
        // DuckDB can fail on it.
        let t = Instant::now();
        let converted = converted.clone().expect("a converted table");
        let mut sets = vec![duckdb_reads(
            &python,
            a.read_budget,
            a.read_memory_gib,
            &[&fresh, &after, &converted],
        )];
        let mut labels = vec!["fresh", "compacted", "converted"];
        if a.read_before {
            sets.push(duckdb_reads(
                &python,
                a.read_budget,
                a.read_memory_gib,
                &[&before],
            ));
            labels.push("before");
        }
        println!("duckdb reads in {:.0} s", t.elapsed().as_secs_f64());
        // floe verify's digest of the fresh and the compacted table (DuckDB's full scan
        // reads every column of them too).
        let verified = [fresh_ident.clone(), tables[0].clone()];
        let bytes: Vec<u64> = (verified.iter())
            .map(|t| runtime.block_on(table_files(&client, t)).data_bytes())
            .collect();
        let seconds = runtime.block_on(verify_reads(&client, &verified, 5));
        for ((label, s), b) in ["fresh", "compacted"].iter().zip(seconds).zip(bytes) {
            verify_times.push((*label, median(s), b));
        }
        for (label, r) in labels.into_iter().zip(sets.into_iter().flatten()) {
            println!(
                "duckdb {label}: count(*) {} -> {} rows, scan {}",
                r[0].text(),
                r[0].rows,
                r[1].text(),
            );
            reads.push((label, r));
        }
    }

    let input = inputs[0].data_bytes() as f64 / 1e6;
    println!("\n## Results\n");
    println!("input: {}", inputs[0].describe());
    println!(
        "\n| mode | median MB/s | rounds (MB/s) | peak MiB (median) |\n| --- | --- | --- | --- |"
    );
    let names = [
        "arrow-rs copy, 1 thread",
        "arrow-rs copy, 2 threads",
        "Floe compaction (default options)",
        "Floe compaction without verification (verify=false)",
    ];
    for m in 0..modes.len() {
        let list: Vec<String> = rates[m].iter().map(|x| format!("{x:.1}")).collect();
        println!(
            "| {} | {:.1} | {} | {:.0} |",
            names[m],
            medians[m],
            list.join(" / "),
            median(peaks[m].clone())
        );
    }
    println!(
        "\nFloe compaction of {input:.0} MB: {:.2} of the 1-thread copy rate, {:.2} of the 2-thread copy rate (target: 0.70)",
        medians[2] / medians[0],
        medians[2] / medians[1]
    );
    let costs: Vec<f64> = (compact_secs.iter().zip(&unverified_secs))
        .map(|(with, without)| with / without - 1.0)
        .collect();
    println!(
        "Verification (each group's files read back and checked against the rows read) costs {:.1}% of compaction time, median of rounds {} (goal: under 10%)",
        median(costs.clone()) * 100.0,
        costs.iter().map(|c| format!("{:.1}%", c * 100.0)).collect::<Vec<_>>().join(" / ")
    );
    let ratios: Vec<String> = convert_secs
        .iter()
        .zip(&compact_secs)
        .map(|(c, f)| format!("{:.2}", c / f))
        .collect();
    println!(
        "\nConverting the equality deletes: median {:.1} s (rounds {}), peak {:.0} MiB; of the same table's compaction time per round: {} (target: at most 0.33)",
        median(convert_secs.clone()),
        convert_secs
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(" / "),
        median(convert_peaks.clone()),
        ratios.join(" / ")
    );
    if !reads.is_empty() {
        let fresh = &reads[0].1;
        println!(
            "\nDuckDB 1.5 iceberg_scan (up to 5 runs after a warm-up, fresh and compacted taking turns, {} s budget per query, {} GiB memory limit)\n",
            a.read_budget, a.read_memory_gib
        );
        println!("| table | rows | count(*) | full scan | scan / fresh scan |\n| --- | --- | --- | --- | --- |");
        for (label, r) in &reads {
            let ratio = if r[1].status == "ok" && fresh[1].status == "ok" {
                format!("{:.2}", r[1].seconds / fresh[1].seconds)
            } else {
                "-".into()
            };
            println!(
                "| {label} | {} | {} | {} | {ratio} |",
                r[0].rows,
                r[0].text(),
                r[1].text()
            );
        }
    }
    for (label, seconds, bytes) in &verify_times {
        let scan = reads.iter().find(|(l, _)| l == label).map(|(_, r)| &r[1]);
        let ratio = match scan {
            Some(r) if r.status == "ok" => format!(
                "; DuckDB's full scan {:.3} s, {:.2} of floe verify's time",
                r.seconds,
                r.seconds / seconds
            ),
            _ => String::new(),
        };
        println!(
            "floe verify digest of the {label} table: {seconds:.3} s (median of 5), {:.0} MB/s of data files{ratio}",
            *bytes as f64 / 1e6 / seconds
        );
    }
    println!(
        "\ncommand: {}\nwall time {:.1} min",
        a.command(),
        started.elapsed().as_secs_f64() / 60.0
    );
}
