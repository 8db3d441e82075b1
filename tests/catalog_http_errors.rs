//! The REST API over plain HTTP against a real `floe serve`: every bad input gets a clear
//! 4xx with the Iceberg error body and changes nothing (the warehouse's files, the table's
//! metadata-location and the listings are compared before and after).

use floe_test_support::*;
use serde_json::json;

#[tokio::test]
async fn malformed_and_unknown_bodies_are_400() {
    let fx = fixture().await;
    let h = fx.http();
    let t = table_path(NS, "t");
    for path in [
        t.as_str(),
        &tables_path(NS),
        "/v1/namespaces",
        &format!("{}/properties", ns_path(NS)),
        &format!("{}/register", ns_path(NS)),
        "/v1/tables/rename",
        "/v1/transactions/commit",
    ] {
        for name in ["not-json", "empty", "array", "updates-not-a-list"] {
            let body = fixture_bytes(&format!("requests/malformed/{name}.json"));
            let r = fx
                .rejects(h.post_raw(path, &body), 400, "BadRequestException")
                .await;
            assert!(!r.message().is_empty(), "{path}");
        }
    }
    // An unknown update, an unknown requirement, and an invalid update on its own (a
    // schema id that does not exist).
    for name in [
        "commit-unknown-update",
        "commit-unknown-requirement",
        "commit-missing-schema",
    ] {
        let body = fixture_json(&format!("requests/{name}.json"));
        fx.rejects(h.post(&t, &body), 400, "BadRequestException")
            .await;
    }
}

#[tokio::test]
async fn failed_requirements_are_409() {
    let fx = fixture().await;
    let h = fx.http();
    let t = table_path(NS, "t");
    let cases = [
        json!({"type": "assert-table-uuid", "uuid": uuid::Uuid::new_v4().to_string()}),
        json!({"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 12345}),
        json!({"type": "assert-current-schema-id", "current-schema-id": 5}),
        json!({"type": "assert-create"}),
    ];
    for requirement in cases {
        let body = fx.commit_body(json!([requirement]), set_props("x", "y"));
        fx.rejects(h.post(&t, &body), 409, "CommitFailedException")
            .await;
    }
    // The same requirements hold with the right values, and the commit applies.
    let ok = fx.commit_body(
        json!([{"type": "assert-table-uuid", "uuid": fx.uuid},
               {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": null},
               {"type": "assert-current-schema-id", "current-schema-id": 0}]),
        set_props("x", "y"),
    );
    let before = h.metadata_location(NS, "t").await;
    let resp = h.post(&t, &ok).await.ok();
    assert_eq!(resp["metadata"]["properties"]["x"], "y");
    assert_ne!(resp["metadata-location"], before);
    assert_eq!(
        resp["metadata-location"],
        h.metadata_location(NS, "t").await
    );
}

#[tokio::test]
async fn missing_tables_and_namespaces_are_404() {
    let fx = fixture().await;
    let h = fx.http();
    let (tbl, ns) = ("NoSuchTableException", "NoSuchNamespaceException");
    let gone = &["gone"][..];
    // Every table route answers NoSuchTableException for a table that does not exist, also
    // under a missing namespace (Iceberg's Java client tries `db.orders.snapshots` as a
    // table first and falls back to the metadata table only on that answer).
    for (namespace, name) in [(NS, "nope"), (gone, "t")] {
        let missing = table_path(namespace, name);
        fx.rejects(h.get(&missing), 404, tbl).await;
        assert_eq!(h.head(&missing).await, 404);
        fx.rejects(h.delete(&missing), 404, tbl).await;
        let commit = fx.commit_body(json!([]), set_props("a", "b"));
        fx.rejects(h.post(&missing, &commit), 404, tbl).await;
        let report = json!({"report-type": "scan-report"});
        let metrics = format!("{missing}/metrics");
        fx.rejects(h.post(&metrics, &report), 404, tbl).await;
        let table = json!({"namespace": namespace, "name": name});
        let rename = json!({"source": table, "destination": {"namespace": NS, "name": "n2"}});
        fx.rejects(h.post("/v1/tables/rename", &rename), 404, tbl)
            .await;
        let tx = json!({"table-changes": [{
            "identifier": table,
            "requirements": [],
            "updates": [{"action": "set-properties", "updates": {"a": "b"}}],
        }]});
        fx.rejects(h.post("/v1/transactions/commit", &tx), 404, tbl)
            .await;
    }
    let lost = table_path(gone, "t");
    let lost_message = h.get(&lost).await.body["error"]["message"].clone();
    assert!(
        lost_message
            .as_str()
            .unwrap()
            .contains("namespace gone does not exist"),
        "{lost_message}"
    );

    // A namespace under a missing parent: the spec lists no 404 for a create.
    let orphan = fx
        .rejects(
            h.post("/v1/namespaces", &json!({"namespace": ["gone", "child"]})),
            400,
            "BadRequestException",
        )
        .await;
    assert!(
        orphan.message().contains("parent gone does not exist"),
        "{}",
        orphan.text
    );

    fx.rejects(h.get(&ns_path(gone)), 404, ns).await;
    fx.rejects(h.delete(&ns_path(gone)), 404, ns).await;
    fx.rejects(h.get(&tables_path(gone)), 404, ns).await;
    fx.rejects(h.get("/v1/namespaces?parent=gone"), 404, ns)
        .await;
    fx.rejects(
        h.post(
            &tables_path(gone),
            &json!({"name": "x", "schema": table_schema()}),
        ),
        404,
        ns,
    )
    .await;
    let props = json!({"updates": {"a": "b"}, "removals": []});
    fx.rejects(
        h.post(&format!("{}/properties", ns_path(gone)), &props),
        404,
        ns,
    )
    .await;
    let meta = h.metadata_location(NS, "t").await;
    let register = json!({"name": "r", "metadata-location": meta});
    fx.rejects(
        h.post(&format!("{}/register", ns_path(gone)), &register),
        404,
        ns,
    )
    .await;
    let rename = json!({"source": {"namespace": NS, "name": "t"}, "destination": {"namespace": gone, "name": "t"}});
    fx.rejects(h.post("/v1/tables/rename", &rename), 404, ns)
        .await;
    let any = h.get(&table_path(gone, "t")).await;
    assert_eq!(any.status.as_u16(), 404, "{}", any.text);
    // Renaming onto an existing table is a conflict.
    h.create_table(NS, "other").await;
    let onto = json!({"source": {"namespace": NS, "name": "t"}, "destination": {"namespace": NS, "name": "other"}});
    fx.rejects(
        h.post("/v1/tables/rename", &onto),
        409,
        "AlreadyExistsException",
    )
    .await;
}

#[tokio::test]
async fn bad_names_are_400() {
    let fx = fixture().await;
    let h = fx.http();
    let bad = "BadRequestException";
    for seg in ["a%2Fb", "a..b", "a%01b", "tab%09x", "a%5Cb"] {
        fx.rejects(h.get(&format!("/v1/namespaces/ns/tables/{seg}")), 400, bad)
            .await;
        fx.rejects(h.get(&format!("/v1/namespaces/{seg}")), 400, bad)
            .await;
        fx.rejects(h.get(&format!("/v1/namespaces/{seg}/tables")), 400, bad)
            .await;
    }
    // `..` as a whole path segment, sent raw (HTTP clients would normalize it away).
    for path in ["/v1/namespaces/ns/tables/..", "/v1/namespaces/../tables"] {
        let base = fx.env.server.url().to_string();
        fx.rejects(raw_request(&base, "GET", path), 400, bad).await;
    }
    for name in ["a/b", "..", ".", "a\u{1}b", "x\ny", "", "a\\b"] {
        let body = json!({"name": name, "schema": table_schema()});
        fx.rejects(h.post(&tables_path(NS), &body), 400, bad).await;
        let body = json!({"namespace": [name], "properties": {}});
        fx.rejects(h.post("/v1/namespaces", &body), 400, bad).await;
        let body = json!({"namespace": ["ns", name]});
        fx.rejects(h.post("/v1/namespaces", &body), 400, bad).await;
        let rename = json!({"source": {"namespace": NS, "name": "t"}, "destination": {"namespace": NS, "name": name}});
        fx.rejects(h.post("/v1/tables/rename", &rename), 400, bad)
            .await;
        let meta = h.metadata_location(NS, "t").await;
        let register = json!({"name": name, "metadata-location": meta});
        fx.rejects(
            h.post(&format!("{}/register", ns_path(NS)), &register),
            400,
            bad,
        )
        .await;
    }
}

#[tokio::test]
async fn locations_outside_the_warehouse_are_400() {
    let fx = fixture().await;
    let h = fx.http();
    let bad = "BadRequestException";
    let wh = fx
        .env
        .warehouse()
        .canonicalize()
        .unwrap()
        .display()
        .to_string();
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().display().to_string();
    let existing = h.load_table(NS, "t").await["metadata"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    for location in [
        out.clone(),
        format!("file://{out}/t"),
        format!("{wh}/ns/../../escape"),
        format!("{wh}x/t"),
        wh.clone(),
        existing.clone(),
        format!("{existing}/nested"),
    ] {
        let body = json!({"name": "new", "schema": table_schema(), "location": location});
        fx.rejects(h.post(&tables_path(NS), &body), 400, bad).await;
    }
    let t = table_path(NS, "t");
    let set_location = fx.commit_body(
        json!([]),
        json!([{"action": "set-location", "location": out}]),
    );
    fx.rejects(h.post(&t, &set_location), 400, bad).await;
    fx.rejects(
        h.post(
            &t,
            &fx.commit_body(json!([]), set_props("write.data.path", &out)),
        ),
        400,
        bad,
    )
    .await;

    // Register: a valid metadata file outside the warehouse, then one inside the
    // warehouse whose table location is outside.
    let meta_location = h.metadata_location(NS, "t").await;
    let mut metadata = read_metadata_file(&meta_location);
    let copy = outside.path().join("00000-copy.metadata.json");
    std::fs::write(&copy, serde_json::to_vec(&metadata).unwrap()).unwrap();
    let register = |name: &str, loc: &str| json!({"name": name, "metadata-location": loc});
    let reg_path = format!("{}/register", ns_path(NS));
    fx.rejects(
        h.post(&reg_path, &register("r1", copy.to_str().unwrap())),
        400,
        bad,
    )
    .await;
    fx.rejects(h.post(&reg_path, &register("r1", "/etc/passwd")), 400, bad)
        .await;
    metadata["location"] = json!(out);
    let forged = fx
        .env
        .warehouse()
        .join("ns/forged/metadata/00000-forged.metadata.json");
    std::fs::create_dir_all(forged.parent().unwrap()).unwrap();
    std::fs::write(&forged, serde_json::to_vec(&metadata).unwrap()).unwrap();
    let forged = forged.canonicalize().unwrap();
    fx.rejects(
        h.post(&reg_path, &register("r2", forged.to_str().unwrap())),
        400,
        bad,
    )
    .await;
}

/// A JSON body of exactly `size` bytes: `head`, then `a`s, then `tail`.
fn padded(head: &str, size: usize, tail: &str) -> Vec<u8> {
    let mut body = head.as_bytes().to_vec();
    body.resize(size - tail.len(), b'a');
    body.extend_from_slice(tail.as_bytes());
    body
}

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn oversized_body_is_413_and_bad_page_sizes_are_400() {
    let fx = fixture().await;
    let h = fx.http();
    let ns_body = |size| {
        padded(
            r#"{"namespace": ["big"], "properties": {"x": ""#,
            size,
            r#""}}"#,
        )
    };
    // A fresh connection per request here; connection reuse is checked separately.
    let fresh = Http::unpooled(fx.env.server.url());
    fx.rejects(
        fresh.post_raw("/v1/namespaces", &ns_body(8 * MIB + 1)),
        413,
        "BadRequestException",
    )
    .await;
    let path = table_path(NS, "t");
    for size in [9 * MIB, 32 * MIB] {
        let commit = padded(
            r#"{"requirements": [], "updates": [], "pad": ""#,
            size,
            r#""}"#,
        );
        // The server answers before taking the whole body and closes the connection.
        let sent = fresh.post_reading_early_answer(&path, commit);
        fx.rejects(sent, 413, "BadRequestException").await;
    }
    // Just under the limit is accepted.
    let created = fresh
        .post_raw("/v1/namespaces", &ns_body(8 * MIB - 1))
        .await
        .ok();
    assert_eq!(created["namespace"], json!(["big"]));

    for q in [
        "pageSize=0",
        "pageSize=5000",
        "pageSize=-1",
        "pageSize=abc",
        "pageToken=%25%25garbage",
    ] {
        for path in ["/v1/namespaces".to_string(), tables_path(NS)] {
            fx.rejects(h.get(&format!("{path}?{q}")), 400, "BadRequestException")
                .await;
        }
    }
}

/// For a body well over the limit (9 MiB) the server answers 413 and then closes the
/// connection without reading the rest; a keep-alive client that is not told so sends its
/// next request into the closed connection ("error sending request", seen in this suite).
/// So that 413 must carry `Connection: close`.
#[tokio::test]
async fn oversized_body_response_closes_the_connection() {
    let env = TestEnv::start();
    let big = padded(r#"{"namespace": ["big"], "pad": ""#, 9 * MIB, r#""}"#);
    let url = format!("{}/v1/namespaces", env.server.url());
    let resp = env
        .http
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(big);
    let resp = resp.send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let connection = resp
        .headers()
        .get("connection")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase());
    assert_eq!(
        connection.as_deref(),
        Some("close"),
        "413 headers: {:?}",
        resp.headers()
    );
    let next = env
        .http
        .try_send(reqwest::Method::GET, "/v1/config", None)
        .await;
    assert!(
        next.is_ok_and(|r| r.status == 200),
        "the next request on the same client failed"
    );
}
