//! `floe upsert` refuses what it cannot write before anything is written: bad input
//! (missing, unknown or mistyped columns, null keys, bad `_op` values, unreadable files,
//! also as a later input of several), tables that cannot take upserts, `--create` without
//! a key and missing tables without `--create`. Each refused run exits non-zero with one
//! error line naming what was wrong, and leaves the table's metadata-location and every
//! file of the warehouse as they were.

use std::path::PathBuf;

use floe_test_support::changes::*;
use floe_test_support::upsert_cli::*;
use floe_test_support::*;
use serde_json::json;

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_committed() {
    let env = TestEnv::start();
    let dir = inputs_dir(&env);
    let model = base_table(env.server.url());
    let url = env.server.url();
    let before = metadata(&env.http, "ns.t").await;
    assert_eq!(main_snapshots(&before).len(), 2);

    let input = |name: &str| fixture_path(&format!("refusals/bad-input/{name}"));
    let mut cases: Vec<(PathBuf, Vec<&str>)> = vec![
        // The key column is missing.
        (input("no-key.parquet"), vec!["missing column \"id\""]),
        // A null key, in Parquet and in CSV (an empty field).
        (
            input("null-key.parquet"),
            vec!["null key", "row 2", "key column \"id\""],
        ),
        (
            input("null-key.csv"),
            vec!["null key", "row 1", "key column \"id\""],
        ),
        // A change kind that is not +I, -U, +U or -D; and a null one.
        (
            input("bad-op.parquet"),
            vec!["unknown change kind \"+X\"", "row 2", "_op"],
        ),
        (
            input("null-op.csv"),
            vec!["unknown change kind", "row 1", "_op"],
        ),
        // `_op` that is not text.
        (input("numeric-op.parquet"), vec!["_op must be text"]),
        // Strings where the table has longs: the key, another column, and CSV text.
        (
            input("string-id.parquet"),
            vec!["column \"id\" has type Utf8", "Int64"],
        ),
        (
            input("string-value.parquet"),
            vec!["column \"value\" has type Utf8", "Int64"],
        ),
        (input("text-value.csv"), vec!["abc"]),
        // A float where the table has a long would lose precision.
        (
            input("float-value.parquet"),
            vec!["column \"value\" has type Float64"],
        ),
        // A column the table does not have.
        (
            input("extra-column.parquet"),
            vec!["unknown column \"extra\""],
        ),
        (input("extra-column.csv"), vec!["unknown column \"colour\""]),
        // An unknown extension.
        (input("rows.json"), vec!["unknown format"]),
    ];
    // Random bytes named .parquet; a file that is not there.
    let corrupt = dir.join("corrupt.parquet");
    std::fs::write(&corrupt, Rng(7).bytes(4096)).unwrap();
    cases.push((corrupt.clone(), vec!["not a readable Parquet file"]));
    cases.push((dir.join("absent.parquet"), vec!["no such file"]));

    // An insert of id 1000 and a delete of id 0.
    let good = input("good.parquet");
    // A real Parquet file cut short, as an interrupted copy leaves it.
    let truncated = dir.join("truncated.parquet");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    cases.push((truncated, vec!["not a readable Parquet file"]));
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
    apply(&mut model, &read_changes(&good));
    assert_rows_eq(
        &scan_rows(url, "ns.t").await,
        &model,
        "ns.t after good input",
    );
}

/// Tables of `id long required, name string, value long` that are no upsert tables (no
/// identifier fields, not bucketed by the key, format version 1) are refused.
#[tokio::test]
async fn tables_that_cannot_take_upserts_are_refused() {
    let env = TestEnv::start();
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
    // An insert of id 1 and a delete of id 2.
    let input = fixture_path("refusals/not-upsert-tables/rows.parquet");
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
    // Inserts of ids 1 and 2; and a row of `score double`, `id long`.
    let input = fixture_path("refusals/create/rows.parquet");
    let floats = fixture_path("refusals/create/floats.parquet");
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
    let url = env.server.url();
    env.http.create_namespace(&["ns"], json!({})).await;
    // An insert of id 1; and a change of kind `+X`.
    let good = fixture_path("refusals/create/good.parquet");
    let bad = fixture_path("refusals/create/bad-op.parquet");
    refused(
        &env,
        "ns.new",
        upsert_args(url, "ns.new", &[&good, &bad], &["--create", "--key", "id"]),
        &["\"+X\""],
    )
    .await;
}
