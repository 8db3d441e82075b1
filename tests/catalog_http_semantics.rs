//! The REST API over plain HTTP against a real `floe serve`: the positive paths of
//! pagination, nested namespaces, namespace properties, staged creates, transactions,
//! register, metrics, snapshot refs and ETags.

use std::collections::BTreeSet;

use floe_test_support::*;
use serde_json::{json, Value};

#[tokio::test]
async fn non_empty_namespace_cannot_be_dropped() {
    let fx = fixture().await;
    let h = fx.http();
    fx.rejects(h.delete(&ns_path(NS)), 409, "NamespaceNotEmptyException")
        .await;
    h.create_namespace(&["p"], json!({})).await;
    h.create_namespace(&["p", "c"], json!({})).await;
    fx.rejects(
        h.delete(&ns_path(&["p"])),
        409,
        "NamespaceNotEmptyException",
    )
    .await;
    assert_eq!(h.delete(&ns_path(&["p", "c"])).await.status, 204);
    assert_eq!(h.delete(&ns_path(&["p"])).await.status, 204);
    assert_eq!(h.head(&ns_path(&["p"])).await, 404);
    fx.rejects(
        h.post("/v1/namespaces", &json!({"namespace": NS})),
        409,
        "AlreadyExistsException",
    )
    .await;
}

/// Every item exactly once, in as many pages as the page size implies.
async fn check_pages(h: &Http, path: &str, key: &str, expected: &BTreeSet<String>) {
    for size in [1, 4, 7, expected.len(), 1000] {
        let (items, pages) = h.list_all(path, key, size).await;
        let unique: BTreeSet<String> = items.iter().map(Value::to_string).collect();
        assert_eq!(
            unique.len(),
            items.len(),
            "duplicates with pageSize={size}: {items:?}"
        );
        assert_eq!(&unique, expected, "pageSize={size}");
        assert!(
            pages <= expected.len().div_ceil(size) + 1,
            "{pages} pages of {size}"
        );
    }
}

#[tokio::test]
async fn pagination_and_nested_namespaces() {
    let env = TestEnv::start();
    let h = &env.http;
    let mut top = BTreeSet::new();
    for i in 0..23 {
        let name = format!("n{i:02}");
        h.create_namespace(&[&name], json!({})).await;
        top.insert(json!([name]).to_string());
    }
    h.create_namespace(&["n00", "child"], json!({})).await;
    h.create_namespace(&["n00", "child", "leaf"], json!({"deep": "yes"}))
        .await;
    h.create_namespace(&["n00", "x"], json!({})).await;
    check_pages(h, "/v1/namespaces", "namespaces", &top).await;
    let kids = BTreeSet::from([
        json!(["n00", "child"]).to_string(),
        json!(["n00", "x"]).to_string(),
    ]);
    check_pages(h, "/v1/namespaces?parent=n00", "namespaces", &kids).await;
    let leaf = h.get("/v1/namespaces?parent=n00%1Fchild").await.ok();
    assert_eq!(leaf["namespaces"], json!([["n00", "child", "leaf"]]));
    let loaded = h.get(&ns_path(&["n00", "child", "leaf"])).await.ok();
    assert_eq!(
        loaded,
        json!({"namespace": ["n00", "child", "leaf"], "properties": {"deep": "yes"}})
    );
    assert_eq!(h.head(&ns_path(&["n00", "child"])).await, 204);
    assert_eq!(h.head(&ns_path(&["n00", "nope"])).await, 404);

    let nested = &["n00", "child"][..];
    let mut tables = BTreeSet::new();
    for i in 0..17 {
        let name = format!("t{i:02}");
        h.create_table(nested, &name).await;
        tables.insert(json!({"namespace": nested, "name": name}).to_string());
    }
    check_pages(h, &tables_path(nested), "identifiers", &tables).await;
    assert_eq!(h.head(&table_path(nested, "t03")).await, 204);
    assert_eq!(h.head(&table_path(nested, "t99")).await, 404);
    assert_eq!(
        h.head(&table_path(&["n01"], "t03")).await,
        404,
        "tables are per namespace"
    );
    let none = h.get(&tables_path(&["n01"])).await.ok();
    assert_eq!(none["identifiers"], json!([]));
}

#[tokio::test]
async fn namespace_properties_update() {
    let fx = fixture().await;
    let h = fx.http();
    let path = format!("{}/properties", ns_path(NS));
    h.post(&path, &json!({"updates": {"a": "1", "b": "2"}}))
        .await
        .ok();
    let body = json!({"updates": {"a": "10", "c": "3"}, "removals": ["b", "zz"]});
    let resp = h.post(&path, &body).await.ok();
    let sorted = |v: &Value| {
        let mut s: Vec<String> = serde_json::from_value(v.clone()).unwrap_or_default();
        s.sort();
        s
    };
    assert_eq!(sorted(&resp["updated"]), ["a", "c"]);
    assert_eq!(sorted(&resp["removed"]), ["b"]);
    assert_eq!(sorted(&resp["missing"]), ["zz"]);
    let loaded = h.get(&ns_path(NS)).await.ok();
    assert_eq!(
        loaded["properties"],
        json!({"owner": "ana", "a": "10", "c": "3"})
    );
    let both = json!({"updates": {"a": "x"}, "removals": ["a"]});
    fx.rejects(h.post(&path, &both), 422, "UnprocessableEntityException")
        .await;
}

#[tokio::test]
async fn stage_create_writes_nothing_until_committed() {
    let fx = fixture().await;
    let h = fx.http();
    let spec = json!({"spec-id": 0, "fields": [{"source-id": 1, "field-id": 1000, "name": "id_bucket", "transform": "bucket[16]"}]});
    let body = json!({"name": "staged", "schema": table_schema(), "partition-spec": spec,
                      "stage-create": true, "properties": {"p": "1"}});
    let before = fx.state().await;
    let staged = h.post(&tables_path(NS), &body).await.ok();
    assert_eq!(
        fx.state().await,
        before,
        "stage-create must not write anything"
    );
    assert!(
        staged.get("metadata-location").is_none_or(Value::is_null),
        "{staged}"
    );
    assert_eq!(h.head(&table_path(NS, "staged")).await, 404);
    let m = &staged["metadata"];
    let location = m["location"].as_str().unwrap();
    assert!(location.starts_with(
        &fx.env
            .warehouse()
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    ));

    let t = table_path(NS, "staged");
    let updates = json!([
        {"action": "assign-uuid", "uuid": m["table-uuid"]},
        {"action": "upgrade-format-version", "format-version": 2},
        {"action": "add-schema", "schema": m["schemas"][0]},
        {"action": "set-current-schema", "schema-id": -1},
        {"action": "add-spec", "spec": m["partition-specs"][0]},
        {"action": "set-default-spec", "spec-id": -1},
        {"action": "add-sort-order", "sort-order": m["sort-orders"][0]},
        {"action": "set-default-sort-order", "sort-order-id": -1},
        {"action": "set-location", "location": location},
        {"action": "set-properties", "updates": {"p": "1", "q": "2"}}
    ]);
    // Without assert-create the table is simply missing.
    fx.rejects(
        h.post(&t, &fx.commit_body(json!([]), updates.clone())),
        404,
        "NoSuchTableException",
    )
    .await;
    let create = fx.commit_body(json!([{"type": "assert-create"}]), updates);
    let committed = h.post(&t, &create).await.ok();
    let loaded = h.load_table(NS, "staged").await;
    assert_eq!(loaded["metadata-location"], committed["metadata-location"]);
    read_metadata_file(loaded["metadata-location"].as_str().unwrap());
    let lm = &loaded["metadata"];
    assert_eq!(lm["table-uuid"], m["table-uuid"]);
    assert_eq!(lm["location"], m["location"]);
    assert_eq!(
        lm["partition-specs"][0]["fields"][0]["transform"],
        "bucket[16]"
    );
    assert_eq!(lm["properties"]["p"], "1");
    assert_eq!(lm["properties"]["q"], "2");
    // Creating it again, either way, is a conflict.
    fx.rejects(h.post(&t, &create), 409, "CommitFailedException")
        .await;
    let again = json!({"name": "staged", "schema": table_schema()});
    fx.rejects(
        h.post(&tables_path(NS), &again),
        409,
        "AlreadyExistsException",
    )
    .await;
    fx.rejects(
        h.post(
            &tables_path(NS),
            &json!({"name": "t", "schema": table_schema()}),
        ),
        409,
        "AlreadyExistsException",
    )
    .await;
}

#[tokio::test]
async fn multi_table_transactions_are_all_or_nothing() {
    let fx = fixture().await;
    let h = fx.http();
    let other = h.create_table(NS, "u").await;
    let other_uuid = other["metadata"]["table-uuid"].as_str().unwrap();
    let change = |name: &str, uuid: &str, key: &str| {
        json!({"identifier": {"namespace": NS, "name": name},
               "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
               "updates": set_props(key, "1")})
    };
    let path = "/v1/transactions/commit";
    let u_before = h.metadata_location(NS, "u").await;
    let stale = uuid::Uuid::new_v4().to_string();
    let failing =
        json!({"table-changes": [change("t", &fx.uuid, "tx"), change("u", &stale, "tx")]});
    fx.rejects(h.post(path, &failing), 409, "CommitFailedException")
        .await;
    let missing =
        json!({"table-changes": [change("t", &fx.uuid, "tx"), change("nope", &stale, "tx")]});
    fx.rejects(h.post(path, &missing), 404, "NoSuchTableException")
        .await;
    let unnamed = json!({"table-changes": [{"requirements": [], "updates": set_props("tx", "1")}]});
    fx.rejects(h.post(path, &unnamed), 400, "BadRequestException")
        .await;
    let twice = json!({"table-changes": [change("t", &fx.uuid, "a"), change("t", &fx.uuid, "b")]});
    fx.rejects(h.post(path, &twice), 400, "BadRequestException")
        .await;
    assert_eq!(h.metadata_location(NS, "u").await, u_before);

    let t_before = h.metadata_location(NS, "t").await;
    let good =
        json!({"table-changes": [change("t", &fx.uuid, "tx"), change("u", other_uuid, "tx")]});
    let resp = h.post(path, &good).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    for (name, before) in [("t", t_before), ("u", u_before)] {
        let loaded = h.load_table(NS, name).await;
        assert_eq!(loaded["metadata"]["properties"]["tx"], "1", "{name}");
        assert_ne!(loaded["metadata-location"], before.as_str(), "{name}");
        read_metadata_file(loaded["metadata-location"].as_str().unwrap());
    }
}

#[tokio::test]
async fn register_metrics_and_snapshot_refs() {
    let fx = fixture().await;
    let h = fx.http();
    let t = table_path(NS, "t");
    let table_location = h.load_table(NS, "t").await["metadata"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (id, parent, seq) in [(1001i64, None, 1), (1002, Some(1001i64), 2)] {
        let snapshot = json!({"snapshot-id": id, "parent-snapshot-id": parent, "sequence-number": seq,
            "timestamp-ms": now + seq, "manifest-list": format!("{table_location}/metadata/snap-{id}.avro"),
            "summary": {"operation": "append"}, "schema-id": 0});
        let updates = json!([{"action": "add-snapshot", "snapshot": snapshot},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": id}]);
        h.post(&t, &fx.commit_body(json!([]), updates)).await.ok();
    }
    let ids = |v: &Value| -> BTreeSet<i64> {
        v["metadata"]["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["snapshot-id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&h.get(&t).await.ok()), BTreeSet::from([1001, 1002]));
    assert_eq!(
        ids(&h.get(&format!("{t}?snapshots=all")).await.ok()),
        BTreeSet::from([1001, 1002])
    );
    let refs = h.get(&format!("{t}?snapshots=refs")).await.ok();
    assert_eq!(
        ids(&refs),
        BTreeSet::from([1002]),
        "only snapshots a ref points at"
    );
    assert_eq!(refs["metadata"]["current-snapshot-id"], 1002);
    let stale_snapshot = fx.commit_body(
        json!([{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 1001}]),
        set_props("a", "b"),
    );
    fx.rejects(h.post(&t, &stale_snapshot), 409, "CommitFailedException")
        .await;
    fx.rejects(
        h.get(&format!("{t}?snapshots=some")),
        400,
        "BadRequestException",
    )
    .await;

    let report = json!({"report-type": "commit-report", "table-name": "ns.t", "snapshot-id": 1002,
        "sequence-number": 2, "operation": "append", "metrics": {}});
    let resp = h.post(&format!("{t}/metrics"), &report).await;
    assert_eq!(resp.status, 204, "{}", resp.text);

    // Register the current metadata file under another name (after dropping the
    // original without purge: two live tables never share a location).
    let loaded = h.load_table(NS, "t").await;
    let meta = loaded["metadata-location"].as_str().unwrap().to_string();
    let reg_path = format!("{}/register", ns_path(NS));
    let onto_existing = json!({"name": "t", "metadata-location": meta});
    fx.rejects(
        h.post(&reg_path, &onto_existing),
        409,
        "AlreadyExistsException",
    )
    .await;
    assert_eq!(h.delete(&t).await.status, 204);
    let files = list_files(&fx.env.warehouse());
    let registered = h
        .post(
            &reg_path,
            &json!({"name": "copy", "metadata-location": meta}),
        )
        .await
        .ok();
    assert_eq!(registered["metadata-location"], meta.as_str());
    assert_eq!(
        list_files(&fx.env.warehouse()),
        files,
        "register writes no file"
    );
    let copy = h.load_table(NS, "copy").await;
    let parse = |v: &Value| {
        serde_json::from_value::<iceberg::spec::TableMetadata>(v["metadata"].clone()).unwrap()
    };
    assert_eq!(parse(&copy), parse(&loaded));
    assert_eq!(copy["metadata-location"], meta.as_str());
    assert_eq!(h.head(&t).await, 404);
    assert_eq!(h.post(&format!("{t}/metrics"), &report).await.status, 404);
}

/// A load over plain HTTP with an optional `If-None-Match`: status, `ETag`, body.
async fn load_tagged(h: &Http, path: &str, if_none_match: Option<&str>) -> (u16, String, String) {
    let mut request = h.client.get(format!("{}{path}", h.base));
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.text().await.unwrap();
    (
        status,
        etag.unwrap_or_else(|| panic!("no ETag: {status} {body}")),
        body,
    )
}

/// ETags: create, load and commit answers carry one; a load whose `If-None-Match` names
/// the current tag is a 304 without a body; `snapshots=refs` answers have tags of their
/// own; after a commit the old tag gets a 200 and the new tag, which the commit answered.
#[tokio::test]
async fn loads_are_not_modified_while_their_etag_is_current() {
    let fx = fixture().await;
    let h = fx.http();
    let created = h
        .client
        .post(format!("{}{}", h.base, tables_path(NS)))
        .json(&json!({"name": "tagged", "schema": table_schema()}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let created_tag = created.headers()["etag"].to_str().unwrap().to_string();
    let t = table_path(NS, "tagged");
    let (status, tag, body) = load_tagged(h, &t, None).await;
    assert_eq!((status, &tag), (200, &created_tag), "{body}");

    let (status, same, body) = load_tagged(h, &t, Some(&tag)).await;
    assert_eq!((status, &same, body.as_str()), (304, &tag, ""));
    let listed = format!("\"other\", W/{tag}");
    assert_eq!(load_tagged(h, &t, Some(&listed)).await.0, 304);
    assert_eq!(load_tagged(h, &t, Some("\"other\"")).await.0, 200);

    let refs = format!("{t}?snapshots=refs");
    let (status, refs_tag, _) = load_tagged(h, &refs, Some(&tag)).await;
    assert_eq!(status, 200, "the refs answer is another representation");
    assert_ne!(refs_tag, tag);
    assert_eq!(load_tagged(h, &refs, Some(&refs_tag)).await.0, 304);

    let committed = h
        .client
        .post(format!("{}{t}", h.base))
        .json(&fx.commit_body(json!([]), set_props("a", "b")))
        .send()
        .await
        .unwrap();
    assert_eq!(committed.status(), 200);
    let commit_tag = committed.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(commit_tag, tag);
    let (status, new_tag, body) = load_tagged(h, &t, Some(&tag)).await;
    assert_eq!((status, &new_tag), (200, &commit_tag));
    let loaded: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(loaded["metadata"]["properties"]["a"], "b");
    assert_eq!(load_tagged(h, &t, Some(&new_tag)).await.0, 304);
    assert_eq!(load_tagged(h, &refs, Some(&refs_tag)).await.0, 200);
}
