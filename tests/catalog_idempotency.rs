//! `Idempotency-Key` over HTTP against a real `floe serve`: a retry of a create, a commit
//! or a transaction with the same key gets the first answer and changes nothing; a new key
//! runs the request again (and gets the normal 409); a key reused with another request is
//! a 422, one that is not a UUID a 400; keys are pruned after the advertised lifetime; and
//! on ZooKeeper, a retry that reaches another node gets the first answer.

use std::time::{Duration, Instant};

use floe_test_support::cluster::Cluster;
use floe_test_support::zk::zk_env;
use floe_test_support::*;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// An answer: status, `ETag` and body text.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    etag: Option<String>,
    text: String,
}

/// Sends `body` to `path` with `Idempotency-Key: key` (when given).
async fn send(h: &Http, method: Method, path: &str, key: Option<&str>, body: &Value) -> Answer {
    let mut request = h.client.request(method, format!("{}{path}", h.base));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if !body.is_null() {
        request = request.json(body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let etag = (resp.headers().get("etag")).map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        etag,
        text: resp.text().await.unwrap(),
    }
}

fn error_type(answer: &Answer) -> String {
    let body: Value = serde_json::from_str(&answer.text).unwrap_or(Value::Null);
    body["error"]["type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn new_key() -> String {
    Uuid::now_v7().to_string()
}

/// An `add-snapshot` commit on an empty `main` of the table at `location`: it succeeds
/// once, and the same request without a key then fails its requirement (409).
fn first_snapshot(location: &str) -> Value {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let snapshot = json!({"snapshot-id": 4242, "sequence-number": 1,
        "timestamp-ms": now_ms, "manifest-list": format!("{location}/metadata/snap-4242.avro"),
        "summary": {"operation": "append"}, "schema-id": 0});
    json!({
        "requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": null}],
        "updates": [{"action": "add-snapshot", "snapshot": snapshot},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 4242}],
    })
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing() {
    let fx = fixture().await;
    let h = fx.http();
    let post = Method::POST;

    // Create a namespace; the retry answers the same, a new key gets the normal 409.
    let body = json!({"namespace": ["idem"], "properties": {"a": "b"}});
    let key = new_key();
    let first = send(h, post.clone(), "/v1/namespaces", Some(&key), &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = send(h, post.clone(), "/v1/namespaces", Some(&key), &body).await;
    assert_eq!(again, first);
    let other = send(h, post.clone(), "/v1/namespaces", Some(&new_key()), &body).await;
    assert_eq!(
        (other.status, error_type(&other).as_str()),
        (409, "AlreadyExistsException")
    );

    // Create a table: the retry answers the same metadata file and ETag, writes nothing.
    let body = json!({"name": "c", "schema": table_schema()});
    let key = new_key();
    let tables = tables_path(NS);
    let created = send(h, post.clone(), &tables, Some(&key), &body).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(created.etag.is_some());
    let files = list_files(&fx.env.warehouse());
    let again = send(h, post.clone(), &tables, Some(&key), &body).await;
    assert_eq!(again, created);
    assert_eq!(list_files(&fx.env.warehouse()), files);

    // A commit: the retry answers the first metadata file, and the table stays there.
    let t = table_path(NS, "c");
    let location = h.load_table(NS, "c").await["metadata"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    let commit = first_snapshot(&location);
    let key = new_key();
    let committed = send(h, post.clone(), &t, Some(&key), &commit).await;
    assert_eq!(committed.status, 200, "{}", committed.text);
    let state = fx.state().await;
    let current = h.metadata_location(NS, "c").await;
    let again = send(h, post.clone(), &t, Some(&key), &commit).await;
    assert_eq!(again, committed);
    assert_eq!(
        (fx.state().await, h.metadata_location(NS, "c").await),
        (state, current)
    );
    let other = send(h, post.clone(), &t, Some(&new_key()), &commit).await;
    assert_eq!(
        (other.status, error_type(&other).as_str()),
        (409, "CommitFailedException")
    );

    // An answer too large to keep as it is (over 256 KiB) is kept as its metadata file,
    // and the replay builds the same answer from it.
    let big = fx.commit_body(json!([]), set_props("big", &"x".repeat(300_000)));
    let key = new_key();
    let committed = send(h, post.clone(), &t, Some(&key), &big).await;
    assert_eq!(committed.status, 200);
    assert!(committed.text.len() > 300_000);
    let current = h.metadata_location(NS, "c").await;
    let again = send(h, post.clone(), &t, Some(&key), &big).await;
    assert_eq!(again, committed);
    assert_eq!(h.metadata_location(NS, "c").await, current);

    // A transaction.
    let tx = json!({"table-changes": [{
        "identifier": {"namespace": NS, "name": "t"},
        "requirements": [],
        "updates": [{"action": "set-properties", "updates": {"tx": "1"}}],
    }]});
    let key = new_key();
    let done = send(h, post.clone(), "/v1/transactions/commit", Some(&key), &tx).await;
    assert_eq!(done.status, 204, "{}", done.text);
    let state = fx.state().await;
    let again = send(h, post.clone(), "/v1/transactions/commit", Some(&key), &tx).await;
    assert_eq!(again, done);
    assert_eq!(fx.state().await, state, "the replay committed nothing");

    // The same key for another request is a 422; a key that is no UUID a 400. Neither
    // changes anything.
    let reused = json!({"namespace": ["idem2"]});
    fx.rejects(
        async {
            let a = send(h, post.clone(), "/v1/namespaces", Some(&key), &reused).await;
            Resp {
                status: reqwest::StatusCode::from_u16(a.status).unwrap(),
                body: serde_json::from_str(&a.text).unwrap_or(Value::Null),
                text: a.text,
            }
        },
        422,
        "UnprocessableEntityException",
    )
    .await;
    let bad = send(
        h,
        post.clone(),
        "/v1/namespaces",
        Some("not-a-uuid"),
        &reused,
    )
    .await;
    assert_eq!(
        (bad.status, error_type(&bad).as_str()),
        (400, "BadRequestException")
    );
    assert!(bad.text.contains("not a UUID"), "{}", bad.text);
    assert_eq!(h.head(&ns_path(&["idem2"])).await, 404);

    // A 404 is final too: its replay is the same 404, even once the table exists.
    let missing = table_path(NS, "later");
    let key = new_key();
    let gone = send(h, Method::DELETE, &missing, Some(&key), &Value::Null).await;
    assert_eq!(gone.status, 404);
    h.create_table(NS, "later").await;
    let again = send(h, Method::DELETE, &missing, Some(&key), &Value::Null).await;
    assert_eq!(again, gone);
    assert_eq!(h.head(&missing).await, 204, "the replay dropped nothing");

    // The lifetime is advertised.
    let config = h.get("/v1/config").await.ok();
    assert_eq!(config["idempotency-key-lifetime"], "PT30M");
}

/// With a two-second lifetime, a key is forgotten soon after: the same key then runs a
/// new request instead of answering 422.
#[tokio::test]
async fn keys_are_pruned_after_their_lifetime() {
    let dirs = tempfile::tempdir().unwrap();
    let server = FloeServer::start_with_args(
        &dirs.path().join("warehouse"),
        &dirs.path().join("data"),
        &["--idempotency-key-lifetime".to_string(), "PT2S".to_string()],
    );
    let h = Http::new(server.url());
    assert_eq!(
        h.get("/v1/config").await.ok()["idempotency-key-lifetime"],
        "PT2S"
    );
    let key = new_key();
    let first = json!({"namespace": ["p1"]});
    let created = send(&h, Method::POST, "/v1/namespaces", Some(&key), &first).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let second = json!({"namespace": ["p2"]});
    let reused = send(&h, Method::POST, "/v1/namespaces", Some(&key), &second).await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = send(&h, Method::POST, "/v1/namespaces", Some(&key), &second).await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 422, "{}", answer.text);
        assert!(
            Instant::now() < deadline,
            "the key was not pruned within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(h.head(&ns_path(&["p2"])).await, 204);
}

/// Two nodes on one ZooKeeper ensemble: a commit through the first, retried through the second
/// with the same key, gets the first answer and commits nothing.
#[tokio::test]
async fn a_retry_that_reaches_another_node_gets_the_first_answer() {
    let Some(connect) = zk_env("FLOE_TEST_ZK_ENSEMBLE") else {
        return;
    };
    let cluster = Cluster::start(&connect, 2, &[]);
    let (a, b) = (cluster.http(0), cluster.http(1));
    a.create_namespace(NS, json!({})).await;
    let created = a.create_table(NS, "z").await;
    let location = created["metadata"]["location"].as_str().unwrap();
    let commit = first_snapshot(location);
    let t = table_path(NS, "z");
    let key = new_key();
    let first = send(&a, Method::POST, &t, Some(&key), &commit).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let current = b.metadata_location(NS, "z").await;
    let again = send(&b, Method::POST, &t, Some(&key), &commit).await;
    assert_eq!(again, first);
    assert_eq!(a.metadata_location(NS, "z").await, current);
    let other = send(&b, Method::POST, &t, Some(&new_key()), &commit).await;
    assert_eq!(other.status, 409, "{}", other.text);
}
