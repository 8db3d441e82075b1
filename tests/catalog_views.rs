//! Views over HTTP against a real `floe serve`, with the spec's request bodies: create,
//! load, list, exists, replace (a commit with `assert-view-uuid`), rename, register and
//! drop; a view and a table never share a name; a refused request changes nothing; and
//! the same life on two nodes over one ZooKeeper ensemble, each step seen from the other
//! node. (DuckDB 1.5.5 reads no Iceberg views, and pyiceberg's view calls are tested in
//! `tests/interop/test_pyiceberg_views.py`.)

use floe_test_support::cluster::Cluster;
use floe_test_support::zk::zk_env;
use floe_test_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A view version selecting `sql` over the namespace `vs`.
fn version(id: i64, schema_id: i64, sql: &str) -> Value {
    json!({
        "version-id": id, "schema-id": schema_id, "timestamp-ms": 1_700_000_000_000_i64,
        "summary": {"engine-name": "floe-test"}, "default-namespace": ["vs"],
        "representations": [{"type": "sql", "sql": sql, "dialect": "spark"}]
    })
}

fn create_view(name: &str) -> Value {
    json!({
        "name": name,
        "schema": {"type": "struct", "schema-id": 0, "fields": [
            {"id": 1, "name": "id", "type": "long", "required": true}
        ]},
        "view-version": version(1, 0, "SELECT id FROM t"),
        "properties": {"comment": "ids"}
    })
}

/// The spec's replace: a new schema and version, made current.
fn replace(uuid: &str) -> Value {
    json!({
        "requirements": [{"type": "assert-view-uuid", "uuid": uuid}],
        "updates": [
            {"action": "add-schema", "schema": table_schema(), "last-column-id": 2},
            {"action": "add-view-version", "view-version": version(2, -1, "SELECT id, name FROM t")},
            {"action": "set-current-view-version", "view-version-id": -1}
        ]
    })
}

fn names(listed: &Value) -> Vec<String> {
    let ids = listed["identifiers"].as_array().expect("identifiers");
    ids.iter()
        .map(|id| {
            let ns: Vec<&str> = id["namespace"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            format!("{}.{}", ns.join("."), id["name"].as_str().unwrap())
        })
        .collect()
}

fn location(answer: &Value) -> String {
    answer["metadata-location"].as_str().unwrap().to_string()
}

/// A view's whole life, each change made through `a` and checked through `b` (the same
/// server, or another node of the ensemble).
async fn a_view_lives(a: &Http, b: &Http) {
    for ns in [&["vs"][..], &["vs2"]] {
        a.create_namespace(ns, json!({})).await;
    }
    a.create_table(&["vs"], "t").await;

    // Create: version 1 over schema 0, in a metadata file of its own.
    let created = a.post(&views_path(&["vs"]), &create_view("v")).await.ok();
    let uuid = created["metadata"]["view-uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created["metadata"]["current-version-id"], 1);
    assert!(
        location(&created).ends_with(".metadata.json")
            && location(&created).contains("/metadata/00000-"),
        "{created}"
    );
    assert_eq!(created["metadata"]["properties"]["comment"], "ids");
    let loaded = b.get(&view_path(&["vs"], "v")).await.ok();
    assert_eq!(loaded["metadata"], created["metadata"]);
    assert_eq!(location(&loaded), location(&created));

    // One name, one entry: no view over a table's name, no table over a view's.
    let again = a.post(&views_path(&["vs"]), &create_view("v")).await;
    again.error(409, "AlreadyExistsException");
    let over_table = a.post(&views_path(&["vs"]), &create_view("t")).await;
    assert!(over_table
        .error(409, "AlreadyExistsException")
        .message()
        .contains("table vs.t"));
    let table_over_view = a
        .post(
            &tables_path(&["vs"]),
            &json!({"name": "v", "schema": table_schema()}),
        )
        .await;
    let refused = table_over_view.error(409, "AlreadyExistsException");
    assert!(refused.message().contains("view vs.v"), "{}", refused.text);

    // Listed apart; each kind's routes see only their kind.
    assert_eq!(names(&b.get(&views_path(&["vs"])).await.ok()), ["vs.v"]);
    assert_eq!(names(&b.get(&tables_path(&["vs"])).await.ok()), ["vs.t"]);
    assert_eq!(
        b.head(&view_path(&["vs"], "v")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.head(&view_path(&["vs"], "t")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.head(&table_path(&["vs"], "v")).await,
        StatusCode::NOT_FOUND
    );
    let resp = b.get(&table_path(&["vs"], "v")).await;
    resp.error(404, "NoSuchTableException");
    let resp = b.get(&view_path(&["vs"], "t")).await;
    resp.error(404, "NoSuchViewException");
    let resp = b.get(&view_path(&["nowhere"], "v")).await;
    let missing = resp.error(404, "NoSuchViewException");
    assert!(missing
        .message()
        .contains("namespace nowhere does not exist"));
    let resp = b.get(&views_path(&["nowhere"])).await;
    resp.error(404, "NoSuchNamespaceException");
    // A table commit on a view's name finds no table; a staged create meets the view.
    let props = json!({"requirements": [], "updates": [{"action": "set-properties", "updates": {"k": "v"}}]});
    let resp = a.post(&table_path(&["vs"], "v"), &props).await;
    resp.error(404, "NoSuchTableException");
    let create_over_view = json!({"table-changes": [{
        "identifier": {"namespace": ["vs"], "name": "v"},
        "requirements": [{"type": "assert-create"}],
        "updates": [{"action": "add-schema", "schema": table_schema()}]
    }]});
    let resp = a.post("/v1/transactions/commit", &create_over_view).await;
    resp.error(409, "AlreadyExistsException");

    // Replace: version 2 current, a new file, the old one kept.
    let v = view_path(&["vs"], "v");
    let replaced = a.post(&v, &replace(&uuid)).await.ok();
    assert_eq!(replaced["metadata"]["current-version-id"], 2);
    assert_eq!(replaced["metadata"]["view-uuid"], uuid.as_str());
    assert!(
        location(&replaced).contains("/metadata/00001-"),
        "{replaced}"
    );
    assert_eq!(location(&b.get(&v).await.ok()), location(&replaced));
    let history = replaced["metadata"]["version-log"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{replaced}");

    // Refused commits change nothing: another view's uuid, an unknown version, a body
    // naming another view, a commit to a table's name.
    let other_uuid = replace("00000000-0000-0000-0000-000000000000");
    let resp = a.post(&v, &other_uuid).await;
    resp.error(409, "CommitFailedException");
    let unknown =
        json!({"updates": [{"action": "set-current-view-version", "view-version-id": 99}]});
    let resp = a.post(&v, &unknown).await;
    resp.error(400, "BadRequestException");
    let mut elsewhere = replace(&uuid);
    elsewhere["identifier"] = json!({"namespace": ["vs"], "name": "other"});
    a.post(&v, &elsewhere)
        .await
        .error(400, "BadRequestException");
    let resp = a.post(&view_path(&["vs"], "t"), &replace(&uuid)).await;
    resp.error(404, "NoSuchViewException");
    assert_eq!(location(&b.get(&v).await.ok()), location(&replaced));

    // Rename across namespaces; never onto a taken name or into a missing namespace.
    let rename = |from: (&str, &str), to: (&str, &str)| {
        json!({"source": {"namespace": [from.0], "name": from.1},
               "destination": {"namespace": [to.0], "name": to.1}})
    };
    let onto_table = a
        .post("/v1/views/rename", &rename(("vs", "v"), ("vs", "t")))
        .await;
    onto_table.error(409, "AlreadyExistsException");
    let table_onto_view = a
        .post("/v1/tables/rename", &rename(("vs", "t"), ("vs", "v")))
        .await;
    table_onto_view.error(409, "AlreadyExistsException");
    let nowhere = a
        .post("/v1/views/rename", &rename(("vs", "v"), ("nowhere", "w")))
        .await;
    nowhere.error(404, "NoSuchNamespaceException");
    let a_table = a
        .post("/v1/views/rename", &rename(("vs", "t"), ("vs2", "w")))
        .await;
    a_table.error(404, "NoSuchViewException");
    let done = a
        .post("/v1/views/rename", &rename(("vs", "v"), ("vs2", "w")))
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
    b.get(&v).await.error(404, "NoSuchViewException");
    let w = view_path(&["vs2"], "w");
    assert_eq!(location(&b.get(&w).await.ok()), location(&replaced));
    assert!(names(&b.get(&views_path(&["vs"])).await.ok()).is_empty());
    let drop_ns = a.delete(&ns_path(&["vs2"])).await;
    drop_ns.error(409, "NamespaceNotEmptyException");

    // Drop by the wrong kind finds nothing and keeps both.
    let resp = a.delete(&view_path(&["vs"], "t")).await;
    resp.error(404, "NoSuchViewException");
    let resp = a.delete(&table_path(&["vs2"], "w")).await;
    resp.error(404, "NoSuchTableException");
    assert_eq!(
        b.head(&table_path(&["vs"], "t")).await,
        StatusCode::NO_CONTENT
    );

    // Drop keeps the files: the view registers again at its last metadata file.
    let gone = a.delete(&w).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    a.delete(&w).await.error(404, "NoSuchViewException");
    assert_eq!(b.head(&w).await, StatusCode::NOT_FOUND);
    let register = json!({"name": "back", "metadata-location": location(&replaced)});
    let registered = a
        .post("/v1/namespaces/vs/register-view", &register)
        .await
        .ok();
    assert_eq!(registered["metadata"], replaced["metadata"]);
    let loaded = b.get(&view_path(&["vs"], "back")).await.ok();
    assert_eq!(location(&loaded), location(&replaced));
    let taken = json!({"name": "t", "metadata-location": location(&replaced)});
    let resp = a.post("/v1/namespaces/vs/register-view", &taken).await;
    resp.error(409, "AlreadyExistsException");
    let a_table_file =
        json!({"name": "x", "metadata-location": b.metadata_location(&["vs"], "t").await});
    let resp = a
        .post("/v1/namespaces/vs/register-view", &a_table_file)
        .await;
    resp.error(400, "BadRequestException");
    a.delete(&ns_path(&["vs2"])).await;
    assert_eq!(b.head(&ns_path(&["vs2"])).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_view_lives_on_the_embedded_store() {
    let env = TestEnv::start();
    a_view_lives(&env.http, &env.http).await;
}

#[tokio::test]
async fn a_view_lives_on_zookeeper_seen_from_another_node() {
    let Some(connect) = zk_env("FLOE_TEST_ZK_ENSEMBLE") else {
        return;
    };
    let cluster = Cluster::start(&connect, 2, &[]);
    a_view_lives(&cluster.http(0), &cluster.http(1)).await;
}

/// The view routes are advertised, and a retried replace with the same key answers the
/// first answer without a second version.
#[tokio::test]
async fn views_are_advertised_and_a_retried_replace_runs_once() {
    let env = TestEnv::start();
    let h = &env.http;
    let config = h.get("/v1/config").await.ok();
    let endpoints = config["endpoints"].as_array().unwrap();
    for endpoint in [
        "GET /v1/{prefix}/namespaces/{namespace}/views",
        "POST /v1/{prefix}/namespaces/{namespace}/views/{view}",
        "POST /v1/{prefix}/views/rename",
        "POST /v1/{prefix}/namespaces/{namespace}/register-view",
    ] {
        assert!(endpoints.contains(&json!(endpoint)), "{endpoint}: {config}");
    }
    h.create_namespace(&["vs"], json!({})).await;
    let created = h.post(&views_path(&["vs"]), &create_view("v")).await.ok();
    let uuid = created["metadata"]["view-uuid"].as_str().unwrap();
    let key = uuid::Uuid::now_v7().to_string();
    let send = |body: Value| {
        let request = h
            .client
            .request(
                Method::POST,
                format!("{}{}", h.base, view_path(&["vs"], "v")),
            )
            .header("idempotency-key", &key)
            .json(&body);
        async move {
            let resp = request.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let first = send(replace(uuid)).await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(send(replace(uuid)).await, first);
    let loaded = h.get(&view_path(&["vs"], "v")).await.ok();
    let answered: Value = serde_json::from_str(&first.1).unwrap();
    assert_eq!(location(&loaded), location(&answered), "no second commit");
    let versions = loaded["metadata"]["versions"].as_array().unwrap();
    assert_eq!(
        versions.len(),
        2,
        "the created and the replaced version: {loaded}"
    );
}
