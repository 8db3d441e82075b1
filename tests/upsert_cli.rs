//! `floe upsert` and `floe table show` run as a user runs them, against a real `floe serve`:
//! bad input and tables that cannot take upserts are refused before anything is written
//! (the table's metadata-location and every file of the warehouse are compared before and
//! after), checkpoints land exactly once across a run killed with SIGKILL and re-run, and
//! `table show` reports what the commits did.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::upsert_inputs::*;
use common::*;
use futures::TryStreamExt;
use iceberg::io::FileIO;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Running the binary.

/// A finished `floe` run.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// What a failed run printed about its failure: stderr from its one error line (`floe:
    /// ...`, or clap's `error: ...` for usage errors) to the end.
    #[track_caller]
    fn error_line(&self) -> &str {
        let starts: Vec<usize> = self
            .stderr
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .chain([0])
            .filter(|&i| {
                let rest = &self.stderr[i..];
                rest.starts_with("floe: ") || rest.starts_with("error: ")
            })
            .collect();
        assert_eq!(
            starts.len(),
            1,
            "one error line on stderr; stderr:\n{}",
            self.stderr
        );
        self.stderr[starts[0]..].trim_end()
    }

    /// The stdout line about checkpoint `c`.
    #[track_caller]
    fn checkpoint_line(&self, c: i64) -> &str {
        let prefix = format!("checkpoint {c} (");
        let found: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one line for checkpoint {c}; stdout:\n{}",
            self.stdout
        );
        found[0]
    }
}

fn floe_command(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_floe"));
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn floe(args: &[String]) -> Run {
    let out = floe_command(args).output().expect("run the floe binary");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `floe upsert --catalog URL --table TABLE --input ... EXTRA...`
fn upsert_args(url: &str, table: &str, inputs: &[&Path], extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["upsert", "--catalog", url, "--table", table]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for input in inputs {
        args.push("--input".into());
        args.push(input.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs `floe upsert` and asserts that it succeeded.
#[track_caller]
fn upsert_ok(url: &str, table: &str, inputs: &[&Path], extra: &[&str]) -> Run {
    let run = floe(&upsert_args(url, table, inputs, extra));
    assert!(
        run.status.success(),
        "floe upsert into {table} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    run
}

fn show(url: &str, table: &str) -> Run {
    let args: Vec<String> = ["table", "show", "--catalog", url, "--table", table]
        .iter()
        .map(|s| s.to_string())
        .collect();
    floe(&args)
}

// ---------------------------------------------------------------------------------------
// The catalog's view of a table.

fn split(table: &str) -> (&str, &str) {
    table.split_once('.').expect("namespace.table")
}

/// The table's metadata-location, or `None` when the catalog answers 404.
async fn metadata_location(http: &Http, table: &str) -> Option<String> {
    let (ns, name) = split(table);
    let resp = http.get(&table_path(&[ns], name)).await;
    if resp.status.as_u16() == 404 {
        return None;
    }
    let body = resp.ok();
    Some(body["metadata-location"].as_str().unwrap().to_string())
}

async fn metadata(http: &Http, table: &str) -> Value {
    let (ns, name) = split(table);
    http.load_table(&[ns], name).await["metadata"].clone()
}

/// The table's directory on disk.
async fn table_dir(http: &Http, table: &str) -> PathBuf {
    let meta = metadata(http, table).await;
    let location = meta["location"].as_str().unwrap();
    PathBuf::from(location.strip_prefix("file://").unwrap_or(location))
}

/// The snapshots of the main branch, oldest first.
fn main_snapshots(metadata: &Value) -> Vec<Value> {
    let Some(mut id) = metadata["refs"]["main"]["snapshot-id"].as_i64() else {
        return Vec::new();
    };
    let snapshots = metadata["snapshots"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    loop {
        let s = snapshots
            .iter()
            .find(|s| s["snapshot-id"].as_i64() == Some(id))
            .unwrap_or_else(|| panic!("snapshot {id} of main is missing"))
            .clone();
        let parent = s["parent-snapshot-id"].as_i64();
        out.push(s);
        match parent {
            Some(p) => id = p,
            None => break,
        }
    }
    out.reverse();
    out
}

/// (writer id, checkpoint id) of every snapshot of main, oldest first.
fn checkpoint_ids(metadata: &Value) -> Vec<(String, i64)> {
    main_snapshots(metadata)
        .iter()
        .map(|s| {
            let summary = &s["summary"];
            let writer = summary["floe.writer-id"]
                .as_str()
                .unwrap_or_else(|| panic!("snapshot without a writer id: {s}"));
            let checkpoint = summary["floe.checkpoint-id"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("snapshot without a checkpoint id: {s}"));
            (writer.to_string(), checkpoint)
        })
        .collect()
}

/// The newest checkpoint in the table (0 when the table or its snapshots are missing).
async fn landed(http: &Http, table: &str) -> i64 {
    if metadata_location(http, table).await.is_none() {
        return 0;
    }
    checkpoint_ids(&metadata(http, table).await)
        .last()
        .map_or(0, |c| c.1)
}

/// Every row a scan of the table's current snapshot returns (iceberg-rust applies the
/// delete files); a key seen twice fails the test.
async fn scan_rows(url: &str, table: &str) -> Rows {
    let client = floe::rest_client::RestClient::connect(url).await.unwrap();
    let ident = floe::rest_client::parse_table_ident(table).unwrap();
    let loaded = client.load_table(&ident).await.unwrap();
    let table_ = loaded.to_table(FileIO::new_with_fs()).unwrap();
    let batches: Vec<RecordBatch> = table_
        .scan()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut rows = Rows::new();
    for batch in batches {
        let column = |name: &str, ty: &DataType| -> ArrayRef {
            let c = batch
                .column_by_name(name)
                .unwrap_or_else(|| panic!("no column {name}"));
            arrow::compute::cast(c, ty).unwrap()
        };
        let ids = column("id", &DataType::Int64);
        let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
        let names = column("name", &DataType::Utf8);
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        let values = column("value", &DataType::Int64);
        let values = values.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..batch.num_rows() {
            assert!(ids.is_valid(i), "a null key in {table}");
            let row = (
                names.is_valid(i).then(|| names.value(i).to_string()),
                values.is_valid(i).then(|| values.value(i)),
            );
            if let Some(old) = rows.insert(ids.value(i), row.clone()) {
                panic!(
                    "key {} appears twice in a scan of {table}: {old:?} and {row:?}",
                    ids.value(i)
                );
            }
        }
    }
    rows
}

#[track_caller]
fn assert_rows_eq(got: &Rows, want: &Rows, what: &str) {
    if got == want {
        return;
    }
    let wrong: Vec<_> = want
        .keys()
        .chain(got.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| got.get(k) != want.get(k))
        .take(10)
        .map(|k| format!("id {k}: got {:?}, want {:?}", got.get(k), want.get(k)))
        .collect();
    panic!(
        "{what}: {} rows, expected {}; first differences:\n{}",
        got.len(),
        want.len(),
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Refusals.

/// Runs `args`, which must be refused: a non-zero exit, one error line on stderr holding
/// every `expect`ed text, nothing reported as committed, the table's metadata-location
/// unchanged (or still missing) and not one file added to or removed from the warehouse
/// (no metadata, manifest or data file). Answers the error line.
async fn refused(env: &TestEnv, table: &str, args: Vec<String>, expect: &[&str]) -> String {
    let before_location = metadata_location(&env.http, table).await;
    let before_files = list_files(&env.warehouse());
    let run = floe(&args);
    let what = format!("floe {}", args.join(" "));
    assert!(
        !run.status.success(),
        "{what} must fail; stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let error = run.error_line().to_string();
    for e in expect {
        assert!(
            error.contains(e),
            "{what}: the error should mention {e:?}: {error}"
        );
    }
    assert!(
        !run.stdout.contains("committed snapshot") && !run.stdout.contains("created table"),
        "{what} reported a commit: {}",
        run.stdout
    );
    assert_eq!(
        metadata_location(&env.http, table).await,
        before_location,
        "{what}: a refused run moved the table's metadata-location ({error})"
    );
    let after_files = list_files(&env.warehouse());
    let added: Vec<_> = after_files.difference(&before_files).collect();
    let metadata_files: Vec<_> = added
        .iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "metadata"))
        .collect();
    assert!(
        metadata_files.is_empty(),
        "{what}: a refused run wrote metadata files {metadata_files:?} ({error})"
    );
    assert!(
        added.is_empty(),
        "{what}: a refused run wrote files {added:?} ({error})"
    );
    assert_eq!(
        after_files, before_files,
        "{what}: a refused run removed files"
    );
    error
}

/// A batch of the given columns.
fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, c)| c).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn longs(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

/// The upsert table `ns.t` (key `id`, 4 buckets) after two checkpoints of writer `base`:
/// 200 inserts, then updates of ids 0..20 and deletes of ids 20..30. Answers the rows.
fn base_table(env: &TestEnv, dir: &Path) -> Rows {
    let url = env.server.url();
    let first: Vec<Change> = (0..200)
        .map(|i| Change::insert(i, &format!("n{i}"), i * 10))
        .collect();
    let mut second: Vec<Change> = (0..20)
        .flat_map(|i| {
            [
                Change::new("-U", i, Some(&format!("n{i}")), Some(i * 10)),
                Change::new("+U", i, Some(&format!("u{i}")), Some(i * 100)),
            ]
        })
        .collect();
    second.extend((20..30).map(Change::delete));
    let (p1, p2) = (dir.join("base-1.parquet"), dir.join("base-2.parquet"));
    write_changes(&p1, &first);
    write_changes(&p2, &second);
    let run = upsert_ok(
        url,
        "ns.t",
        &[&p1, &p2],
        &[
            "--create",
            "--key",
            "id",
            "--buckets",
            "4",
            "--writer-id",
            "base",
        ],
    );
    assert!(
        run.stdout
            .starts_with("created table ns.t with key [\"id\"] in 4 buckets"),
        "{}",
        run.stdout
    );
    assert!(
        run.checkpoint_line(1).contains("200 rows"),
        "{}",
        run.stdout
    );
    let mut model = Rows::new();
    apply(&mut model, &first);
    apply(&mut model, &second);
    model
}

fn inputs_dir(env: &TestEnv) -> PathBuf {
    let dir = env.dirs.path().join("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_committed() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let model = base_table(&env, &dir);
    let url = env.server.url();
    let before = metadata(&env.http, "ns.t").await;
    assert_eq!(main_snapshots(&before).len(), 2);

    let parquet = |name: &str, b: RecordBatch| {
        let p = dir.join(name);
        write_parquet(&p, &b);
        p
    };
    let csv = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ops = |n: usize| strings(&vec![Some("+I"); n]);
    let mut cases: Vec<(PathBuf, Vec<&str>)> = vec![
        // The key column is missing.
        (
            parquet(
                "no-key.parquet",
                batch(vec![
                    ("_op", ops(2)),
                    ("name", strings(&[Some("a"), Some("b")])),
                    ("value", longs(&[Some(1), Some(2)])),
                ]),
            ),
            vec!["missing column \"id\""],
        ),
        // A null key, in Parquet and in CSV (an empty field).
        (
            parquet(
                "null-key.parquet",
                batch(vec![
                    ("_op", ops(3)),
                    ("id", longs(&[Some(1), Some(2), None])),
                    ("name", strings(&[Some("a"), Some("b"), Some("c")])),
                    ("value", longs(&[Some(1), Some(2), Some(3)])),
                ]),
            ),
            vec!["null key", "row 2", "key column \"id\""],
        ),
        (
            csv("null-key.csv", "id,name,value\n1,a,1\n,b,2\n3,c,3\n"),
            vec!["null key", "row 1", "key column \"id\""],
        ),
        // A change kind that is not +I, -U, +U or -D; and a null one.
        (
            parquet(
                "bad-op.parquet",
                batch(vec![
                    ("_op", strings(&[Some("+I"), Some("-D"), Some("+X")])),
                    ("id", longs(&[Some(1), Some(2), Some(3)])),
                    ("name", strings(&[Some("a"), None, Some("c")])),
                    ("value", longs(&[Some(1), None, Some(3)])),
                ]),
            ),
            vec!["unknown change kind \"+X\"", "row 2", "_op"],
        ),
        (
            csv("null-op.csv", "_op,id,name,value\n+I,1,a,1\n,2,b,2\n"),
            vec!["unknown change kind", "row 1", "_op"],
        ),
        // `_op` that is not text.
        (
            parquet(
                "numeric-op.parquet",
                batch(vec![
                    ("_op", longs(&[Some(1)])),
                    ("id", longs(&[Some(1)])),
                    ("name", strings(&[Some("a")])),
                    ("value", longs(&[Some(1)])),
                ]),
            ),
            vec!["_op must be text"],
        ),
        // Strings where the table has longs: the key, another column, and CSV text.
        (
            parquet(
                "string-id.parquet",
                batch(vec![
                    ("_op", ops(2)),
                    ("id", strings(&[Some("1"), Some("2")])),
                    ("name", strings(&[Some("a"), Some("b")])),
                    ("value", longs(&[Some(1), Some(2)])),
                ]),
            ),
            vec!["column \"id\" has type Utf8", "Int64"],
        ),
        (
            parquet(
                "string-value.parquet",
                batch(vec![
                    ("id", longs(&[Some(1), Some(2)])),
                    ("name", strings(&[Some("a"), Some("b")])),
                    ("value", strings(&[Some("1"), Some("x")])),
                ]),
            ),
            vec!["column \"value\" has type Utf8", "Int64"],
        ),
        (
            csv("text-value.csv", "id,name,value\n1,a,1\n2,b,abc\n"),
            vec!["abc"],
        ),
        // A float where the table has a long would lose precision.
        (
            parquet(
                "float-value.parquet",
                batch(vec![
                    ("id", longs(&[Some(1)])),
                    ("name", strings(&[Some("a")])),
                    ("value", Arc::new(Float64Array::from(vec![1.5]))),
                ]),
            ),
            vec!["column \"value\" has type Float64"],
        ),
        // A column the table does not have.
        (
            parquet(
                "extra-column.parquet",
                batch(vec![
                    ("_op", ops(1)),
                    ("id", longs(&[Some(1)])),
                    ("name", strings(&[Some("a")])),
                    ("value", longs(&[Some(1)])),
                    ("extra", longs(&[Some(7)])),
                ]),
            ),
            vec!["unknown column \"extra\""],
        ),
        (
            csv("extra-column.csv", "id,name,value,colour\n1,a,1,red\n"),
            vec!["unknown column \"colour\""],
        ),
    ];
    // Random bytes named .parquet; a file that is not there; an unknown extension.
    let corrupt = dir.join("corrupt.parquet");
    std::fs::write(&corrupt, Rng(7).bytes(4096)).unwrap();
    cases.push((corrupt.clone(), vec!["not a readable Parquet file"]));
    cases.push((dir.join("absent.parquet"), vec!["no such file"]));
    cases.push((csv("rows.json", "{}"), vec!["unknown format"]));

    let good = dir.join("good.parquet");
    let good_changes = vec![Change::insert(1000, "new", 1), Change::delete(0)];
    write_changes(&good, &good_changes);
    for (input, expect) in &cases {
        let name = input.file_name().unwrap().to_str().unwrap();
        // Alone, with and without a writer id.
        let mut want = expect.clone();
        want.push(name);
        for extra in [&[][..], &["--writer-id", "base"][..]] {
            refused(
                &env,
                "ns.t",
                upsert_args(url, "ns.t", &[input], extra),
                &want,
            )
            .await;
        }
        // Second after a good input: every input is checked before the first commit, so
        // the good one is not committed either.
        let error = refused(
            &env,
            "ns.t",
            upsert_args(
                url,
                "ns.t",
                &[&good, input],
                &["--writer-id", "base", "--watermark", "99"],
            ),
            &want,
        )
        .await;
        assert!(
            !error.contains("good.parquet"),
            "the error names the bad input, not the good one: {error}"
        );
    }
    // The same key given again is fine, another key is refused.
    refused(
        &env,
        "ns.t",
        upsert_args(url, "ns.t", &[&good], &["--key", "name"]),
        &["the table's key is [\"id\"]", "\"name\""],
    )
    .await;

    // Nothing of it reached the table: same snapshots, same rows, no watermark.
    let after = metadata(&env.http, "ns.t").await;
    assert_eq!(after, before);
    assert!(after["properties"].get("floe.watermark").is_none());
    assert_rows_eq(&scan_rows(url, "ns.t").await, &model, "ns.t after refusals");
    // And the table still takes good input, as checkpoint 3 of writer `base`.
    let run = upsert_ok(
        url,
        "ns.t",
        &[&good],
        &["--key", "id", "--writer-id", "base"],
    );
    assert!(
        run.checkpoint_line(3).contains("committed snapshot"),
        "{}",
        run.stdout
    );
    let mut model = model;
    apply(&mut model, &good_changes);
    assert_rows_eq(
        &scan_rows(url, "ns.t").await,
        &model,
        "ns.t after good input",
    );
}

/// Creates `ns.NAME` through the REST API with `id long required, name string, value long`.
async fn create_rest_table(http: &Http, name: &str, identifier: bool, spec: Value, props: Value) {
    let mut schema = json!({
        "type": "struct",
        "schema-id": 0,
        "fields": [
            {"id": 1, "name": "id", "type": "long", "required": true},
            {"id": 2, "name": "name", "type": "string", "required": false},
            {"id": 3, "name": "value", "type": "long", "required": false}
        ]
    });
    if identifier {
        schema["identifier-field-ids"] = json!([1]);
    }
    http.post(
        &tables_path(&["ns"]),
        &json!({"name": name, "schema": schema, "partition-spec": spec, "properties": props}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn tables_that_cannot_take_upserts_are_refused() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let url = env.server.url();
    env.http.create_namespace(&["ns"], json!({})).await;
    let unpartitioned = json!({"fields": []});
    let bucket = json!({"fields": [{"source-id": 1, "field-id": 1000, "name": "id_bucket", "transform": "bucket[4]"}]});
    let outside_key = json!({"fields": [
        {"source-id": 1, "field-id": 1000, "name": "id_bucket", "transform": "bucket[4]"},
        {"source-id": 2, "field-id": 1001, "name": "name", "transform": "identity"}
    ]});
    let by_key = json!({"fields": [{"source-id": 1, "field-id": 1000, "name": "id", "transform": "identity"}]});
    create_rest_table(&env.http, "plain", false, bucket.clone(), json!({})).await;
    create_rest_table(&env.http, "unbucketed", true, unpartitioned, json!({})).await;
    create_rest_table(&env.http, "identity", true, by_key, json!({})).await;
    create_rest_table(&env.http, "outside", true, outside_key, json!({})).await;
    create_rest_table(
        &env.http,
        "v1",
        true,
        bucket,
        json!({"format-version": "1"}),
    )
    .await;
    // Each table also gets one ordinary commit, so there is a history to keep.
    for t in ["plain", "unbucketed", "identity", "outside", "v1"] {
        env.http
            .set_properties(&["ns"], t, json!({"owner": "ana"}))
            .await
            .ok();
    }
    let input = dir.join("rows.parquet");
    write_changes(&input, &[Change::insert(1, "a", 1), Change::delete(2)]);
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("ns.plain", vec![], vec!["identifier fields", "key"]),
        (
            "ns.plain",
            vec!["--writer-id", "w"],
            vec!["identifier fields"],
        ),
        // Asking for a key the table does not have: the table is refused first.
        ("ns.plain", vec!["--key", "id"], vec!["identifier fields"]),
        (
            "ns.unbucketed",
            vec![],
            vec!["not bucketed", "bucket(N, key column)"],
        ),
        ("ns.identity", vec![], vec!["not bucketed"]),
        (
            "ns.outside",
            vec![],
            vec!["partition field \"name\"", "not part of the key"],
        ),
        ("ns.v1", vec![], vec!["format version 2"]),
        // --create does not touch a table that exists.
        (
            "ns.unbucketed",
            vec!["--create", "--key", "id"],
            vec!["bucket"],
        ),
    ];
    for (table, extra, expect) in cases {
        refused(
            &env,
            table,
            upsert_args(url, table, &[&input], &extra),
            &expect,
        )
        .await;
        let meta = metadata(&env.http, table).await;
        assert_eq!(
            main_snapshots(&meta).len(),
            0,
            "{table} has no snapshot: {meta}"
        );
    }
}

#[tokio::test]
async fn create_needs_a_key_and_missing_tables_need_create() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let url = env.server.url();
    env.http.create_namespace(&["ns"], json!({})).await;
    let input = dir.join("rows.parquet");
    write_changes(
        &input,
        &[Change::insert(1, "a", 1), Change::insert(2, "b", 2)],
    );
    let floats = dir.join("floats.parquet");
    write_parquet(
        &floats,
        &batch(vec![
            ("score", Arc::new(Float64Array::from(vec![1.5]))),
            ("id", longs(&[Some(1)])),
        ]),
    );
    // --create without --key, in a namespace that does not exist yet: neither the
    // namespace nor the table appear.
    refused(
        &env,
        "fresh.t",
        upsert_args(url, "fresh.t", &[&input], &["--create"]),
        &["--create needs --key"],
    )
    .await;
    assert_eq!(
        env.http.get(&ns_path(&["fresh"])).await.status.as_u16(),
        404
    );
    // A missing table without --create.
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "ns.nope", &[&input], &["--key", "id"]),
        &["ns.nope", "does not exist", "--create"],
    )
    .await;
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "ns.nope", &[&input], &["--writer-id", "w"]),
        &["ns.nope", "does not exist"],
    )
    .await;
    // With --create, an unreadable first input (its columns make the table) creates
    // nothing.
    let corrupt = dir.join("corrupt.parquet");
    std::fs::write(&corrupt, Rng(11).bytes(1000)).unwrap();
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "ns.nope", &[&corrupt], &["--create", "--key", "id"]),
        &["corrupt.parquet", "not a readable Parquet file"],
    )
    .await;
    // Keys that cannot be: a column the input lacks, a float; a bucket count of 0.
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "ns.nope", &[&input], &["--create", "--key", "nope"]),
        &["key column \"nope\" does not exist", "id, name, value"],
    )
    .await;
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "ns.nope", &[&floats], &["--create", "--key", "score"]),
        &["key column \"score\"", "cannot be a key"],
    )
    .await;
    refused(
        &env,
        "ns.nope",
        upsert_args(
            url,
            "ns.nope",
            &[&input],
            &["--create", "--key", "id", "--buckets", "0"],
        ),
        &["bucket count"],
    )
    .await;
    // Usage errors: a checkpoint id needs a writer id; a table name needs a namespace.
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "ns.nope", &[&input], &["--checkpoint", "1"]),
        &["--writer-id"],
    )
    .await;
    refused(
        &env,
        "ns.nope",
        upsert_args(url, "nope", &[&input], &["--create", "--key", "id"]),
        &["namespace.table"],
    )
    .await;
    assert_eq!(
        env.http.get(&tables_path(&["ns"])).await.ok()["identifiers"],
        json!([])
    );
}

/// `--create` with bad input: the inputs are checked before the first commit, and the
/// table's creation is a commit too, so nothing may be created.
#[tokio::test]
async fn create_with_bad_input_creates_nothing() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let url = env.server.url();
    env.http.create_namespace(&["ns"], json!({})).await;
    let good = dir.join("good.parquet");
    write_changes(&good, &[Change::insert(1, "a", 1)]);
    let bad = dir.join("bad-op.parquet");
    write_changes(&bad, &[Change::new("+X", 2, Some("b"), Some(2))]);
    refused(
        &env,
        "ns.new",
        upsert_args(url, "ns.new", &[&good, &bad], &["--create", "--key", "id"]),
        &["\"+X\""],
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Exactly once across a killed run.

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

/// A summary count as `table show` prints it: `-` when the summary leaves out a zero.
fn shown_count(printed: &str, expected: u64) -> bool {
    printed == expected.to_string() || (expected == 0 && printed == "-")
}

#[tokio::test]
async fn table_show_reports_snapshots_watermark_and_live_files() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let url = env.server.url();
    // Checkpoint 1 (CSV, no _op: every row an upsert): ids 0..50.
    let first: Vec<Change> = (0..50)
        .map(|i| Change::insert(i, &format!("n{i}"), i * 10))
        .collect();
    let mut text = String::from("id,name,value\n");
    for c in &first {
        text.push_str(&format!(
            "{},{},{}\n",
            c.id,
            c.name.as_ref().unwrap(),
            c.value.unwrap()
        ));
    }
    let csv = dir.join("c1.csv");
    std::fs::write(&csv, text).unwrap();
    // Checkpoint 2: updates of 0..10, deletes of 10..15 and of a key never written, keys
    // 20..25 written twice, keys 60, 61 written then deleted.
    let mut second = Vec::new();
    for i in 0..10 {
        second.push(Change::new("-U", i, Some(&format!("n{i}")), Some(i * 10)));
        second.push(Change::new("+U", i, Some(&format!("u{i}")), Some(i * 100)));
    }
    second.extend((10..15).map(Change::delete));
    second.push(Change::delete(999));
    for round in 0..2 {
        second.extend((20..25).map(|i| Change::insert(i, &format!("r{round}-{i}"), round)));
    }
    second.extend([60, 61].map(|i| Change::insert(i, "brief", 0)));
    second.extend([60, 61].map(Change::delete));
    let parquet = dir.join("c2.parquet");
    write_changes(&parquet, &second);
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
    // Every first-seen key gets an equality delete; a key seen again in its checkpoint a
    // position delete of its earlier row.
    assert_eq!(
        (
            c1.rows,
            c1.equality_keys,
            c1.position_files,
            c1.position_rows
        ),
        (50, 50, 0, 0),
        "{line1}"
    );
    assert_eq!(
        (c2.rows, c2.equality_keys, c2.position_rows),
        (10 + 10 + 2, 10 + 5 + 1 + 5 + 2, 5 + 2),
        "{line2}"
    );
    assert!(c2.position_files > 0 && c1.equality_files > 0 && c2.equality_files > 0);
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
        assert_eq!(t[4], "overwrite", "row deltas with deletes: {t:?}");
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

    // Live files: content, records, seq, file-seq, partition, path.
    let files: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|t| {
            t.len() == 6 && ["data", "equality-deletes", "position-deletes"].contains(&t[0])
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
            .filter(|t| t[0] == content && t[2] == seq.to_string() && t[3] == seq.to_string())
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
    assert_eq!(records("equality-deletes"), 50 + 23);
    assert_eq!(records("position-deletes"), 7);
    for t in &files {
        assert!(t[4].starts_with("id_bucket="), "partition of {t:?}");
        assert!(
            t[5].starts_with("data/") && t[5].ends_with(".parquet"),
            "path relative to the table location: {t:?}"
        );
    }
    assert!(
        lines.contains(&"  rows in data files 72, equality deletes 73, position deletes 7"),
        "{text}"
    );

    // What a reader sees.
    let mut model = Rows::new();
    apply(&mut model, &first);
    apply(&mut model, &second);
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
