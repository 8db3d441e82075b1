//! `floe upsert` and `floe table show` run as a user runs them, against a real `floe
//! serve`: checkpoints land exactly once across a run killed with SIGKILL and re-run, and
//! `table show` reports what the commits did. (Refusals: `upsert_cli_refusals.rs`.)

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use floe_test_support::changes::*;
use floe_test_support::cli::floe_command;
use floe_test_support::upsert_cli::*;
use floe_test_support::*;
use serde_json::Value;

const CHECKPOINTS: i64 = 8;

/// Spawns `floe` with stdout piped and stderr into `stderr`.
fn spawn(args: &[String], stderr: &Path) -> Child {
    let mut cmd = floe_command(args);
    cmd.stderr(std::fs::File::create(stderr).unwrap());
    cmd.spawn().expect("start the floe binary")
}

/// Runs `args` and SIGKILLs the process right after it printed the line of checkpoint
/// `after`. Answers the lines it printed.
fn kill_after_checkpoint(args: &[String], after: i64, stderr: &Path) -> Vec<String> {
    let mut child = spawn(args, stderr);
    let prefix = format!("checkpoint {after} (");
    let mut lines = Vec::new();
    let mut hit = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        hit = line.starts_with(&prefix);
        lines.push(line);
        if hit {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        hit,
        "floe never printed checkpoint {after} ({status}); stdout:\n{}\nstderr:\n{}",
        lines.join("\n"),
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    assert!(
        lines.last().unwrap().contains("committed snapshot"),
        "{lines:?}"
    );
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    lines
}

/// Runs `args` and SIGKILLs the process after `delay`. Answers the lines it printed and
/// whether it was still running then.
fn kill_after_delay(args: &[String], delay: Duration, stderr: &Path) -> (Vec<String>, bool) {
    let mut child = spawn(args, stderr);
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    let killed = status.signal() == Some(9);
    assert!(
        killed || status.success(),
        "floe failed on its own ({status}): {lines:?}\n{}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    (lines, killed)
}

/// Re-runs the complete command after a kill. The checkpoints that landed (at least
/// `landed_before`, maybe one more whose commit was in flight) are reported as already
/// committed, the rest are committed now. Answers the number already committed.
fn rerun(url: &str, table: &str, inputs: &[&Path], extra: &[&str], landed_before: i64) -> i64 {
    let run = upsert_ok(url, table, inputs, extra);
    let mut already = 0;
    for c in 1..=CHECKPOINTS {
        let line = run.checkpoint_line(c);
        if line.contains("already committed") {
            assert_eq!(
                already,
                c - 1,
                "the committed checkpoints are a prefix:\n{}",
                run.stdout
            );
            already = c;
        } else {
            assert!(line.contains("committed snapshot"), "{}", run.stdout);
        }
    }
    assert!(
        already >= landed_before,
        "checkpoints 1..={landed_before} were in the table, yet the re-run committed some again:\n{}",
        run.stdout
    );
    assert!(
        already <= landed_before + 1,
        "only one commit can have been in flight at the kill (landed {landed_before}):\n{}",
        run.stdout
    );
    already
}

/// A third run of the complete command finds every checkpoint committed and changes
/// nothing: no snapshot, no metadata file, no data file.
async fn run_again_changes_nothing(env: &TestEnv, table: &str, inputs: &[&Path], extra: &[&str]) {
    let location = metadata_location(&env.http, table).await;
    let dir = table_dir(&env.http, table).await;
    let files = list_files(&dir);
    let run = upsert_ok(env.server.url(), table, inputs, extra);
    for c in 1..=CHECKPOINTS {
        let line = run.checkpoint_line(c);
        assert!(
            line.contains(&format!(
                "already committed (the table holds checkpoint {CHECKPOINTS}"
            )),
            "{line}"
        );
    }
    assert!(!run.stdout.contains("created table"), "{}", run.stdout);
    assert_eq!(metadata_location(&env.http, table).await, location);
    assert_eq!(
        list_files(&dir),
        files,
        "a run of committed checkpoints wrote files"
    );
    assert_eq!(
        checkpoint_ids(&metadata(&env.http, table).await).len(),
        CHECKPOINTS as usize
    );
}

#[tokio::test]
async fn checkpoints_land_exactly_once_across_a_killed_run() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let url = env.server.url().to_string();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Rng(seed);
    let mut model = Rows::new();
    let mut paths = Vec::new();
    let mut repeated = 0;
    for c in 1..=CHECKPOINTS as u32 {
        let changes = generate_checkpoint(&mut rng, c, 3000, 2000);
        let distinct: BTreeSet<i64> = changes.iter().map(|ch| ch.id).collect();
        repeated += changes.len() - distinct.len();
        apply(&mut model, &changes);
        let path = dir.join(format!("checkpoint-{c}.parquet"));
        write_changes(&path, &changes);
        paths.push(path);
    }
    assert!(repeated > 1000, "keys repeat within files");
    let inputs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let extra = [
        "--create",
        "--key",
        "id",
        "--writer-id",
        "w",
        "--checkpoint",
        "1",
        "--watermark",
        "1700000000000",
    ];
    let expected_ids: Vec<(String, i64)> =
        (1..=CHECKPOINTS).map(|c| ("w".to_string(), c)).collect();

    // A: one clean run.
    let started = Instant::now();
    let clean = upsert_ok(&url, "ns.clean", &inputs, &extra);
    let clean_time = started.elapsed();
    for c in 1..=CHECKPOINTS {
        assert!(
            clean.checkpoint_line(c).contains("committed snapshot"),
            "{}",
            clean.stdout
        );
    }
    let clean_rows = scan_rows(&url, "ns.clean").await;
    assert_rows_eq(&clean_rows, &model, &format!("ns.clean (seed {seed})"));
    let clean_meta = metadata(&env.http, "ns.clean").await;
    assert_eq!(checkpoint_ids(&clean_meta), expected_ids);
    assert!(
        clean
            .checkpoint_line(CHECKPOINTS)
            .ends_with("; watermark now 1700000000000"),
        "{}",
        clean.stdout
    );

    // B: killed right after checkpoint 3 was reported, then re-run; and killed after a
    // random delay, then re-run.
    let log = env.dirs.path().join("killed.log");
    let printed = kill_after_checkpoint(&upsert_args(&url, "ns.killed", &inputs, &extra), 3, &log);
    assert!(
        printed[0].starts_with("created table ns.killed"),
        "{printed:?}"
    );
    let landed_before = landed(&env.http, "ns.killed").await;
    assert!(
        landed_before >= 3,
        "checkpoints 1..=3 were reported committed"
    );
    let already = rerun(&url, "ns.killed", &inputs, &extra, landed_before);
    assert!(already >= 3);

    eprintln!(
        "seed {seed}: clean run {clean_time:?}; kill after checkpoint 3 left {landed_before} \
         committed, the re-run found {already}"
    );
    // Two random delays, one early in the run and one around its middle.
    let mut delays = Rng(seed ^ 0x5eed);
    for (table, from) in [("ns.random1", 0.05), ("ns.random2", 0.35)] {
        let fraction = from + 0.3 * (delays.below(1000) as f64 / 1000.0);
        let delay = clean_time.mul_f64(fraction);
        let (printed, killed) =
            kill_after_delay(&upsert_args(&url, table, &inputs, &extra), delay, &log);
        let landed_random = landed(&env.http, table).await;
        let reported = printed
            .iter()
            .filter(|l| l.contains("committed snapshot"))
            .count() as i64;
        assert!(
            landed_random >= reported,
            "every reported checkpoint is in {table} ({printed:?})"
        );
        let already_random = if killed {
            rerun(&url, table, &inputs, &extra, landed_random)
        } else {
            CHECKPOINTS
        };
        eprintln!(
            "seed {seed}: {table} killed after {delay:?} (still running: {killed}) held \
             {landed_random} checkpoints, the re-run found {already_random}"
        );
    }

    for table in ["ns.killed", "ns.random1", "ns.random2"] {
        let what = format!("{table} vs ns.clean (seed {seed})");
        assert_rows_eq(&scan_rows(&url, table).await, &clean_rows, &what);
        let meta = metadata(&env.http, table).await;
        assert_eq!(checkpoint_ids(&meta), checkpoint_ids(&clean_meta), "{what}");
        assert_eq!(
            main_snapshots(&meta).len(),
            CHECKPOINTS as usize,
            "one snapshot per checkpoint: {what}"
        );
        assert_eq!(watermarks(&meta), watermarks(&clean_meta), "{what}");
        run_again_changes_nothing(&env, table, &inputs, &extra).await;
    }
    run_again_changes_nothing(&env, "ns.clean", &inputs, &extra).await;
    // The watermark rides on the last checkpoint only, and is the table's.
    let mut want = vec![None; CHECKPOINTS as usize - 1];
    want.push(Some("1700000000000".to_string()));
    assert_eq!(
        watermarks(&clean_meta),
        (want, Some("1700000000000".into()))
    );
}

/// The watermark in each snapshot summary of main (oldest first) and the table's.
fn watermarks(metadata: &Value) -> (Vec<Option<String>>, Option<String>) {
    let per_snapshot = main_snapshots(metadata)
        .iter()
        .map(|s| s["summary"]["floe.watermark"].as_str().map(str::to_string))
        .collect();
    let table = metadata["properties"]["floe.watermark"]
        .as_str()
        .map(str::to_string);
    (per_snapshot, table)
}

// ---------------------------------------------------------------------------------------
// `floe table show`.

/// The counts of a `committed snapshot ...` line.
#[derive(Debug)]
struct Committed {
    snapshot: i64,
    sequence: i64,
    data_files: u64,
    rows: u64,
    equality_files: u64,
    equality_keys: u64,
    position_files: u64,
    position_rows: u64,
}

#[track_caller]
fn parse_committed(line: &str) -> Committed {
    let rest = line
        .split_once("committed snapshot ")
        .unwrap_or_else(|| panic!("not a commit line: {line}"))
        .1;
    let n: Vec<i64> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(n.len() >= 8, "{line}");
    Committed {
        snapshot: n[0],
        sequence: n[1],
        data_files: n[2] as u64,
        rows: n[3] as u64,
        equality_files: n[4] as u64,
        equality_keys: n[5] as u64,
        position_files: n[6] as u64,
        position_rows: n[7] as u64,
    }
}

/// The equality deletes a commit line says were left out.
fn left_out(line: &str) -> u64 {
    line.split_once("; ")
        .and_then(|(_, rest)| rest.split_once(" equality deletes left out"))
        .map_or(0, |(n, _)| n.parse().unwrap())
}

/// A summary count as `table show` prints it: `-` when the summary leaves out a zero.
fn shown_count(printed: &str, expected: u64) -> bool {
    printed == expected.to_string() || (expected == 0 && printed == "-")
}

#[tokio::test]
async fn table_show_reports_snapshots_watermark_and_live_files() {
    let env = TestEnv::start();
    let url = env.server.url();
    // Checkpoint 1 (CSV, no _op: every row an upsert): ids 0..50 named n<id>, value
    // 10 * id.
    let csv = fixture_path("changes/show-1.csv");
    // Checkpoint 2: updates of 0..10, deletes of 10..15 and of a key never written, keys
    // 20..25 written twice, keys 60, 61 written then deleted.
    let parquet = fixture_path("changes/show-2.parquet");
    let watermark = "1700000000000";
    let run = upsert_ok(
        url,
        "ns.shown",
        &[&csv, &parquet],
        &[
            "--create",
            "--key",
            "id",
            "--buckets",
            "4",
            "--writer-id",
            "w",
            "--checkpoint",
            "1",
            "--watermark",
            watermark,
        ],
    );
    let (line1, line2) = (run.checkpoint_line(1), run.checkpoint_line(2));
    let (c1, c2) = (parse_committed(line1), parse_committed(line2));
    assert!(!line1.contains("watermark"), "{line1}");
    assert!(
        line2.ends_with(&format!("; watermark now {watermark}")),
        "{line2}"
    );
    // The first checkpoint into a new table needs no equality delete: no older row can
    // hold its keys. Later, a first-seen key gets one when an older row may hold it; a key
    // seen again in its checkpoint a position delete of its earlier row.
    assert_eq!(
        (
            c1.rows,
            c1.equality_keys,
            c1.position_files,
            c1.position_rows
        ),
        (50, 0, 0, 0),
        "{line1}"
    );
    assert_eq!(left_out(line1), 50, "{line1}");
    // Equality deletes for the updates of 0..10, the deletes of 10..15 and 20..25; none
    // for the key never written and 60, 61, which lie above every key of their buckets.
    assert_eq!(
        (c2.rows, c2.equality_keys, c2.position_rows),
        (10 + 10 + 2, 10 + 5 + 5, 5 + 2),
        "{line2}"
    );
    assert_eq!(left_out(line2), 1 + 2, "{line2}");
    assert!(c2.position_files > 0 && c1.equality_files == 0 && c2.equality_files > 0);
    assert_eq!((c1.sequence, c2.sequence), (1, 2));

    let out = show(url, "ns.shown");
    assert!(out.status.success(), "{}", out.stderr);
    let text = out.stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("table ns.shown (format version 2, uuid "),
        "{text}"
    );
    assert!(lines.contains(&"key        id"), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("partition  ") && l.contains("bucket[4](id_bucket)")),
        "{text}"
    );
    assert!(
        lines.contains(&"watermark  1700000000000 (2023-11-14 22:13:20.000Z)"),
        "{text}"
    );
    assert!(lines.contains(&"writers    w at checkpoint 2"), "{text}");
    assert!(
        lines.contains(&"snapshots of main, oldest first (2):"),
        "{text}"
    );

    // Snapshot lines: seq, snapshot, committed (date and time), operation, +data,
    // +eq-del, +pos-del, records, writer/checkpoint, watermark.
    let snapshot_line = |tag: &str| -> Vec<&str> {
        let found: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.split_whitespace().nth(9) == Some(tag))
            .collect();
        assert_eq!(found.len(), 1, "one snapshot line of {tag}:\n{text}");
        found[0].split_whitespace().collect()
    };
    for (tag, c, records, mark) in [
        ("w/1", &c1, c1.rows, "-"),
        ("w/2", &c2, c1.rows + c2.rows, watermark),
    ] {
        let t = snapshot_line(tag);
        assert_eq!(t.len(), 11, "{t:?}");
        assert_eq!(t[0], c.sequence.to_string(), "{t:?}");
        assert_eq!(t[1], c.snapshot.to_string(), "{t:?}");
        // A row delta with deletes is an overwrite; the first, without any, an append.
        let operation = if c.equality_files + c.position_files > 0 {
            "overwrite"
        } else {
            "append"
        };
        assert_eq!(t[4], operation, "{t:?}");
        assert!(shown_count(t[5], c.data_files), "+data {t:?} vs {c:?}");
        assert!(
            shown_count(t[6], c.equality_files),
            "+eq-del {t:?} vs {c:?}"
        );
        assert!(
            shown_count(t[7], c.position_files),
            "+pos-del {t:?} vs {c:?}"
        );
        assert_eq!(t[8], records.to_string(), "total records {t:?}");
        assert_eq!(t[10], mark, "watermark {t:?}");
    }

    // Live files: content, records, bytes, seq, file-seq, partition, path.
    let files: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|t| {
            t.len() == 7 && ["data", "equality-deletes", "position-deletes"].contains(&t[0])
        })
        .collect();
    let total =
        c1.data_files + c1.equality_files + c2.data_files + c2.equality_files + c2.position_files;
    assert_eq!(files.len() as u64, total, "{text}");
    assert!(
        lines.contains(&format!("live files ({total}):").as_str()),
        "{text}"
    );
    let count = |content: &str, seq: i64| {
        files
            .iter()
            .filter(|t| t[0] == content && t[3] == seq.to_string() && t[4] == seq.to_string())
            .count() as u64
    };
    assert_eq!(count("data", 1), c1.data_files, "{text}");
    assert_eq!(count("data", 2), c2.data_files, "{text}");
    assert_eq!(count("equality-deletes", 1), c1.equality_files, "{text}");
    assert_eq!(count("equality-deletes", 2), c2.equality_files, "{text}");
    assert_eq!(count("position-deletes", 2), c2.position_files, "{text}");
    let records = |content: &str| -> u64 {
        files
            .iter()
            .filter(|t| t[0] == content)
            .map(|t| t[1].parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(records("data"), 72);
    assert_eq!(records("equality-deletes"), 20);
    assert_eq!(records("position-deletes"), 7);
    for t in &files {
        assert!(t[2].parse::<u64>().unwrap() > 0, "file size of {t:?}");
        assert!(t[5].starts_with("id_bucket="), "partition of {t:?}");
        assert!(
            t[6].starts_with("data/") && t[6].ends_with(".parquet"),
            "path relative to the table location: {t:?}"
        );
    }
    assert!(
        lines.contains(&"  rows in data files 72, equality deletes 20, position deletes 7"),
        "{text}"
    );

    // What a reader sees.
    let mut model = Rows::new();
    apply(&mut model, &read_changes(&csv));
    apply(&mut model, &read_changes(&parquet));
    assert_eq!(model.len(), 45);
    assert_rows_eq(&scan_rows(url, "ns.shown").await, &model, "ns.shown");

    // A missing table.
    let missing = show(url, "ns.none");
    assert!(!missing.status.success());
    assert!(
        missing.error_line().contains("not found"),
        "{}",
        missing.stderr
    );
}
