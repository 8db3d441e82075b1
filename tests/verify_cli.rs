//! `floe verify` through the real binary and `floe serve`: two upsert tables fed the same
//! changes agree (and their figures are the model's: row count, sums and nulls, deletes
//! applied), a table agrees with its snapshot before compaction and with the Parquet files
//! of its rows; a changed value, a missing row and the partition they are in are each
//! found and named, in text and JSON, with exit status 1; what cannot be compared
//! (unknown table, column, snapshot, no files, no second side) exits 2. Files in S3 are
//! matched by a glob of keys, a `*` within one folder.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use floe_client::RestClient;
use floe_compaction::{compact, CompactionRequest, Silent};
use floe_table::TableCatalog;
use floe_test_support::changes::Rng;
use floe_test_support::cli::{floe, floe_command, Run};
use floe_test_support::s3::S3Env;
use floe_test_support::upsert_model::*;
use floe_test_support::TestEnv;
use iceberg::spec::{Datum, Transform};
use iceberg::transform::create_transform_function;
use iceberg::TableIdent;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use serde_json::Value;

const BUCKETS: u32 = 4;

fn verify(url: &str, table: &str, args: &[&str]) -> Run {
    let mut all = vec!["verify", "--catalog", url, "--table", table];
    all.extend_from_slice(args);
    floe(&all)
}

/// The JSON comparison of a run that exited with `code`.
#[track_caller]
fn json(run: &Run, code: i32) -> Value {
    assert_eq!(
        run.status.code(),
        Some(code),
        "{}{}",
        run.stdout,
        run.stderr
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// A column's figure (`sum`, `nulls`, ...) of one side (`left`, `right`) of a part.
fn figure<'a>(part: &'a Value, side: &str, column: &str, what: &str) -> &'a Value {
    let columns = part[side]["columns"].as_array().unwrap();
    let c = columns.iter().find(|c| c["name"] == column).unwrap();
    &c[what]
}

fn differing_partitions(c: &Value) -> Vec<String> {
    (c["partitions"].as_array().unwrap().iter())
        .filter(|p| !p["differences"].as_array().unwrap().is_empty())
        .map(|p| p["partition"].as_str().unwrap().to_string())
        .collect()
}

/// The partition name of key `id`: `id_bucket=N`.
fn partition_of(id: i64) -> String {
    let bucket = create_transform_function(&Transform::Bucket(BUCKETS)).unwrap();
    let n = bucket.transform_literal_result(&Datum::long(id)).unwrap();
    format!("id_bucket={n}")
}

/// Writes one checkpoint of `(op, id, name, qty)` rows to `ident` as writer "fix".
async fn upsert(client: &RestClient, ident: &TableIdent, rows: &[(&'static str, i64, &str, i32)]) {
    let cp = Checkpoint {
        ids: rows.iter().map(|r| r.1).collect(),
        names: rows.iter().map(|r| r.2.to_string()).collect(),
        qty: rows.iter().map(|r| Some(r.3)).collect(),
        ops: rows.iter().map(|r| r.0).collect(),
        expected: Expected::default(),
    };
    let mut writer = open_writer(client, ident, "fix").await;
    writer.write(&batch(&cp, 0..rows.len())).await.unwrap();
    committed(writer.commit(None, None).await.unwrap());
}

/// `rows` as one Parquet file of columns `id`, `name`, `qty`.
fn parquet_file(rows: &[(&i64, &Row)]) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("qty", DataType::Int32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| *r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.1 .0))),
            Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.1 .1))),
        ],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

/// The model's rows as two Parquet files, `part-0.parquet` and `part-1.parquet`.
fn model_files(model: &BTreeMap<i64, Row>) -> Vec<(String, Vec<u8>)> {
    let rows: Vec<(&i64, &Row)> = model.iter().collect();
    (rows.chunks(rows.len().div_ceil(2)).enumerate())
        .map(|(i, half)| (format!("part-{i}.parquet"), parquet_file(half)))
        .collect()
}

/// Writes the model's rows as Parquet files under `dir`, split in two.
fn write_files(dir: &Path, model: &BTreeMap<i64, Row>) {
    for (name, bytes) in model_files(model) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floe_verify_finds_and_names_every_difference() {
    let env = TestEnv::start();
    let url = env.server.url().to_string();
    let client = RestClient::connect(&url).await.unwrap();
    let (a, b) = (
        create_table(&client, "a", BUCKETS).await,
        create_table(&client, "b", BUCKETS).await,
    );
    // The same checkpoints into both tables.
    let (mut rng, mut model) = (Rng(7), BTreeMap::new());
    let mut writers = [
        open_writer(&client, &a, "w").await,
        open_writer(&client, &b, "w").await,
    ];
    for checkpoint in 1..=6 {
        let cp = random_checkpoint(&mut rng, &mut model, 300, 200, checkpoint as usize);
        for writer in &mut writers {
            writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
            committed(writer.commit(Some(checkpoint), None).await.unwrap());
        }
    }

    // The same changes: equal, and the figures are the model's (deletes applied).
    let same = json(
        &verify(
            &url,
            "ns.a",
            &["--against", "ns.b", "--by-partition", "--format", "json"],
        ),
        0,
    );
    assert_eq!(same["equal"], true);
    let whole = &same["whole"];
    assert_eq!(whole["left"]["rows"], model.len() as u64);
    let ids: i64 = model.keys().sum();
    let qty: i64 = model.values().filter_map(|r| r.1).map(i64::from).sum();
    let nulls = model.values().filter(|r| r.1.is_none()).count();
    assert_eq!(
        figure(whole, "left", "id", "sum"),
        &Value::from(ids.to_string())
    );
    assert_eq!(
        figure(whole, "left", "qty", "sum"),
        &Value::from(qty.to_string())
    );
    assert_eq!(figure(whole, "right", "qty", "nulls"), &Value::from(nulls));
    assert_eq!(
        figure(whole, "left", "id", "min"),
        &Value::from(model.keys().next().unwrap().to_string())
    );
    assert_eq!(
        same["partitions"].as_array().unwrap().len(),
        BUCKETS as usize
    );

    // A table against its snapshot before compaction, and against the files of its rows.
    let before = client.load_table(&a).await.unwrap();
    let before_id = before.metadata.current_snapshot_id().unwrap().to_string();
    let catalog: Arc<dyn TableCatalog> = Arc::new(client.clone());
    let request = CompactionRequest {
        overrides: vec![("min-input-files".into(), "1".into())],
        ..Default::default()
    };
    compact(catalog, &a, &request, Arc::new(Silent))
        .await
        .unwrap();
    let compacted = client.load_table(&a).await.unwrap();
    assert_ne!(
        compacted.metadata.current_snapshot_id(),
        before.metadata.current_snapshot_id()
    );
    let run = verify(
        &url,
        "ns.a",
        &["--against-snapshot", &before_id, "--by-partition"],
    );
    assert_eq!(run.status.code(), Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("equal: every figure agrees"),
        "{}",
        run.stdout
    );
    let files = tempfile::tempdir().unwrap();
    write_files(files.path(), &model);
    let pattern = files.path().join("*.parquet").display().to_string();
    for extra in [&[][..], &["--columns", "qty,id"][..]] {
        let mut args = vec!["--against-files", pattern.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let c = json(&verify(&url, "ns.a", &args), 0);
        assert_eq!(c["equal"], true, "{extra:?}");
    }

    // One changed value in b: found in qty, in the key's partition only.
    let (&changed, row) = model.iter().nth(10).unwrap();
    let qty_changed = row.1.unwrap_or(0) + 1;
    upsert(&client, &b, &[("+U", changed, &row.0, qty_changed)]).await;
    let run = verify(
        &url,
        "ns.a",
        &["--against", "ns.b", "--by-partition", "--format", "json"],
    );
    let c = json(&run, 1);
    assert_eq!(c["equal"], false);
    let whole: Vec<String> = serde_json::from_value(c["whole"]["differences"].clone()).unwrap();
    assert!(
        whole.iter().any(|d| d.starts_with("qty: hash")),
        "{whole:?}"
    );
    assert!(
        !whole
            .iter()
            .any(|d| d.starts_with("rows") || d.starts_with("id:")),
        "{whole:?}"
    );
    assert_eq!(differing_partitions(&c), [partition_of(changed)]);
    let text = verify(&url, "ns.a", &["--against", "ns.b", "--by-partition"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(
        text.stdout
            .contains(&format!("partition {}: qty:", partition_of(changed))),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("<> qty hash"), "{}", text.stdout);

    // One row missing from b: the row count differs, in that key's partition too.
    let missing = *model
        .keys()
        .rev()
        .find(|k| partition_of(**k) != partition_of(changed))
        .unwrap();
    upsert(&client, &b, &[("-D", missing, "", 0)]).await;
    let c = json(
        &verify(
            &url,
            "ns.a",
            &["--against", "ns.b", "--by-partition", "--format", "json"],
        ),
        1,
    );
    let whole: Vec<String> = serde_json::from_value(c["whole"]["differences"].clone()).unwrap();
    let rows = format!("rows: {} against {}", model.len(), model.len() - 1);
    assert!(whole.contains(&rows), "{whole:?}");
    let mut want = vec![partition_of(changed), partition_of(missing)];
    want.sort();
    assert_eq!(differing_partitions(&c), want);
    // Columns other than the changed ones still agree when only they are compared.
    let c = json(
        &verify(
            &url,
            "ns.a",
            &["--against", "ns.b", "--columns", "name", "--format", "json"],
        ),
        1,
    );
    let whole: Vec<String> = serde_json::from_value(c["whole"]["differences"].clone()).unwrap();
    assert!(
        whole
            .iter()
            .all(|d| d.starts_with("rows") || d.starts_with("name:")),
        "{whole:?}"
    );

    // What cannot be compared exits 2 and says why.
    let missing_file = files.path().join("none-*.parquet").display().to_string();
    let errors: [(&str, Vec<&str>, &str); 5] = [
        ("unknown table", vec!["--against", "ns.nope"], "nope"),
        (
            "unknown column",
            vec!["--against", "ns.b", "--columns", "nope"],
            "no column nope",
        ),
        (
            "unknown snapshot",
            vec!["--against-snapshot", "12345"],
            "no snapshot 12345",
        ),
        (
            "no files",
            vec!["--against-files", missing_file.as_str()],
            "no file matches",
        ),
        ("no second side", vec![], "--against"),
    ];
    for (what, args, says) in errors {
        let run = verify(&url, "ns.a", &args);
        assert_eq!(
            run.status.code(),
            Some(2),
            "{what}: {}{}",
            run.stdout,
            run.stderr
        );
        assert!(run.stderr.contains(says), "{what}: {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floe_verify_reads_the_files_a_table_was_loaded_from_in_s3() {
    let Some(s3) = S3Env::from_env() else {
        return;
    };
    let env = TestEnv::start();
    let url = env.server.url().to_string();
    let client = RestClient::connect(&url).await.unwrap();
    let ident = create_table(&client, "loaded", BUCKETS).await;
    let (_, model, _) = write_checkpoints(&client, &ident, 11, 4, (200, 150)).await;

    // The exports of one day, and an object of another folder the glob must not match.
    let bucket = s3.new_bucket("verify").await;
    let store = s3.settings().open_bucket(&bucket).unwrap();
    let put = |key: String, bytes: Vec<u8>| {
        let store = store.clone();
        async move {
            let key = object_store::path::Path::from(key);
            store.put(&key, bytes.into()).await.unwrap();
        }
    };
    for (name, bytes) in model_files(&model) {
        put(format!("exports/day=1/{name}"), bytes).await;
    }
    let (id, row) = model.iter().next().unwrap();
    put(
        "exports/day=1/more/extra.parquet".into(),
        parquet_file(&[(id, row)]),
    )
    .await;
    let verify_s3 = |glob: &str| {
        let pattern = format!("s3://{bucket}/{glob}");
        let args = [
            "verify",
            "--catalog",
            &url,
            "--table",
            "ns.loaded",
            "--against-files",
        ];
        let mut command = floe_command(&args);
        command
            .args([pattern.as_str(), "--format", "json"])
            .envs(s3.envs());
        Run::from(command.output().unwrap())
    };

    let c = json(&verify_s3("exports/day=1/*.parquet"), 0);
    assert_eq!(c["equal"], true);
    assert!(c["right"].as_str().unwrap().ends_with("(2 files)"), "{c}");
    // A wildcard spanning folders takes the extra file too: one row more.
    let c = json(&verify_s3("exports/day=1/*/*.parquet"), 1);
    let whole: Vec<String> = serde_json::from_value(c["whole"]["differences"].clone()).unwrap();
    assert!(
        whole.contains(&format!("rows: {} against 1", model.len())),
        "{whole:?}"
    );
    let none = verify_s3("exports/day=2/*.parquet");
    assert_eq!(none.status.code(), Some(2), "{}", none.stderr);
    assert!(none.stderr.contains("no file matches"), "{}", none.stderr);
}
