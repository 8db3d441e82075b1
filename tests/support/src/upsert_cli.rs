//! What the `floe upsert` CLI tests share: the arguments of a run (`upsert_args`,
//! `upsert_ok`, `show`), the checks of a refused run (`refused`: same metadata-location and
//! the same warehouse files before and after), reading a table over REST (its snapshots
//! and checkpoints) and scanning it with iceberg-rust, and the small base table the
//! refusal tests start from (the fixtures `changes/base-1.parquet`, `base-2.parquet`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use arrow::datatypes::DataType;
use floe_client::parse_table_ident;
use floe_table::storage::S3Settings;
use serde_json::{json, Value};

use crate::changes::{apply, read_changes, Rows};
use crate::cli::{floe, Run};
use crate::fixtures::fixture_path;
use crate::http::{table_path, tables_path, Http};
use crate::s3::rest_client;
use crate::scan::scan_batches;
use crate::server::TestEnv;
use crate::warehouse::list_files;

/// `floe upsert --catalog URL --table TABLE --input ... EXTRA...`
pub fn upsert_args(url: &str, table: &str, inputs: &[&Path], extra: &[&str]) -> Vec<String> {
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
pub fn upsert_ok(url: &str, table: &str, inputs: &[&Path], extra: &[&str]) -> Run {
    floe(&upsert_args(url, table, inputs, extra)).succeeded(&format!("floe upsert into {table}"))
}

pub fn show(url: &str, table: &str) -> Run {
    let args: Vec<String> = ["table", "show", "--catalog", url, "--table", table]
        .iter()
        .map(|s| s.to_string())
        .collect();
    floe(&args)
}

// ---------------------------------------------------------------------------------------
// The catalog's view of a table.

pub fn split(table: &str) -> (&str, &str) {
    table.split_once('.').expect("namespace.table")
}

/// The table's metadata-location, or `None` when the catalog answers 404.
pub async fn metadata_location(http: &Http, table: &str) -> Option<String> {
    let (ns, name) = split(table);
    let resp = http.get(&table_path(&[ns], name)).await;
    if resp.status.as_u16() == 404 {
        return None;
    }
    let body = resp.ok();
    Some(body["metadata-location"].as_str().unwrap().to_string())
}

pub async fn metadata(http: &Http, table: &str) -> Value {
    let (ns, name) = split(table);
    http.load_table(&[ns], name).await["metadata"].clone()
}

/// The table's directory on disk.
pub async fn table_dir(http: &Http, table: &str) -> PathBuf {
    let meta = metadata(http, table).await;
    let location = meta["location"].as_str().unwrap();
    PathBuf::from(location.strip_prefix("file://").unwrap_or(location))
}

/// The summary of the table's current snapshot, as the catalog serves it.
pub async fn current_summary(http: &Http, table: &str) -> Value {
    let metadata = metadata(http, table).await;
    let current = metadata["current-snapshot-id"].clone();
    metadata["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["snapshot-id"] == current)
        .expect("a current snapshot")["summary"]
        .clone()
}

/// The snapshots of the main branch, oldest first.
pub fn main_snapshots(metadata: &Value) -> Vec<Value> {
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
pub fn checkpoint_ids(metadata: &Value) -> Vec<(String, i64)> {
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
pub async fn landed(http: &Http, table: &str) -> i64 {
    if metadata_location(http, table).await.is_none() {
        return 0;
    }
    checkpoint_ids(&metadata(http, table).await)
        .last()
        .map_or(0, |c| c.1)
}

/// Every row a scan of the table's current snapshot returns (iceberg-rust applies the
/// delete files); a key seen twice fails the test.
pub async fn scan_rows(url: &str, table: &str) -> Rows {
    scan_rows_with(url, table, &S3Settings::default()).await
}

/// `scan_rows` with this process's own storage settings (S3 credentials).
pub async fn scan_rows_with(url: &str, table: &str, storage: &S3Settings) -> Rows {
    let client = rest_client(url, storage).await;
    let ident = parse_table_ident(table).unwrap();
    let loaded = client.load_table(&ident).await.unwrap();
    let batches = scan_batches(&loaded.to_table().unwrap()).await;
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
pub fn assert_rows_eq(got: &Rows, want: &Rows, what: &str) {
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
pub async fn refused(env: &TestEnv, table: &str, args: Vec<String>, expect: &[&str]) -> String {
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

/// The upsert table `ns.t` (key `id`, 4 buckets) of the catalog at `url` after two
/// checkpoints of writer `base` (the fixtures `changes/base-1.parquet`: 200 inserts, and
/// `changes/base-2.parquet`: updates of ids 0..20 and deletes of ids 20..30). Answers
/// the rows.
pub fn base_table(url: &str) -> Rows {
    let (p1, p2) = (
        fixture_path("changes/base-1.parquet"),
        fixture_path("changes/base-2.parquet"),
    );
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
    apply(&mut model, &read_changes(&p1));
    apply(&mut model, &read_changes(&p2));
    model
}

/// A directory for a test's input files, in the test's temp dir.
pub fn inputs_dir(env: &TestEnv) -> PathBuf {
    let dir = env.dirs.path().join("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Creates `ns.NAME` through the REST API with `id long required, name string, value
/// long`, `id` its identifier field when `identifier`, with partition spec `spec` and
/// properties `props`.
pub async fn create_rest_table(
    http: &Http,
    name: &str,
    identifier: bool,
    spec: Value,
    props: Value,
) {
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
