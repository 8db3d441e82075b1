//! Answers that reveal nothing beyond a caller's grants, on the real `floe serve --auth`: a
//! client that may write only in namespace `pub` probes namespace `secret_ns` (which holds
//! table `secret_ns.hidden_tbl`) on every route, and gets the same answer whether what it
//! names exists or not, naming nothing it did not send; a location that overlaps the
//! hidden table's is refused without naming it (the operator's log does).

use floe_test_support::auth_api::{
    serve_with_auth, write_auth_file, AuthApi, Principal, SIGNING_KEY,
};
use floe_test_support::table_schema;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn write_test_auth_file(path: &std::path::Path) {
    write_auth_file(
        path,
        SIGNING_KEY,
        None,
        &[
            Principal::Client(
                "admin",
                "admin-secret",
                r#"[{ namespace = "", access = "read-write" }]"#,
            ),
            Principal::Client(
                "public",
                "public-secret",
                r#"[{ namespace = "pub", access = "read-write" }]"#,
            ),
            Principal::Client(
                "team",
                "team-secret",
                r#"[{ namespace = "org.team", access = "read" }]"#,
            ),
        ],
    );
}

/// One probe: a request naming something; `{ns}` and `{t}` are filled in with the names
/// probed.
struct Probe {
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
}

const fn probe(
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
) -> Probe {
    Probe {
        what,
        method,
        path,
        body,
    }
}

fn fill(text: &str, ns: &str, t: &str) -> String {
    text.replace("{ns}", ns).replace("{t}", t)
}

/// What a caller learns from an answer: its status, and its body with the names it sent
/// put back as placeholders.
fn seen(status: StatusCode, text: &str, ns: &str, t: &str) -> (StatusCode, String) {
    let text = text.replace(&format!("{ns}.{t}"), "{ns}.{t}");
    (status, text.replace(ns, "{ns}").replace(t, "{t}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_learns_nothing_outside_its_grants() {
    let dirs = tempfile::tempdir().unwrap();
    let server = serve_with_auth(dirs.path(), write_test_auth_file);
    let api = AuthApi::new(server.url());
    let (admin, _) = api.login("admin", "admin-secret").await;
    let (public, _) = api.login("public", "public-secret").await;
    let call = |method: Method, path: String, token: &str, body: Option<Value>| {
        let api = &api;
        let token = token.to_string();
        async move { api.call(method, &path, Some(&token), body).await }
    };
    let namespaces: [&[&str]; 5] = [
        &["secret_ns"],
        &["pub"],
        &["org"],
        &["org", "team"],
        &["org", "other"],
    ];
    for ns in namespaces {
        let (s, b, _) = call(
            Method::POST,
            "/v1/namespaces".into(),
            &admin,
            Some(json!({ "namespace": ns })),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let create = |name: &str| json!({ "name": name, "schema": table_schema() });
    for (ns, t) in [("secret_ns", "hidden_tbl"), ("pub", "a")] {
        let path = format!("/v1/namespaces/{ns}/tables");
        let (s, b, _) = call(Method::POST, path, &admin, Some(create(t))).await;
        assert_eq!(s, 200, "{b}");
    }

    let table_change = r#"{ "requirements": [], "updates": [] }"#;
    let transaction = r#"{ "table-changes": [
        { "identifier": { "namespace": ["pub"], "name": "a" }, "requirements": [], "updates": [] },
        { "identifier": { "namespace": ["{ns}"], "name": "{t}" }, "requirements": [], "updates": [] } ] }"#;
    let probes = [
        probe("load namespace", Method::GET, "/v1/namespaces/{ns}", None),
        probe(
            "namespace exists",
            Method::HEAD,
            "/v1/namespaces/{ns}",
            None,
        ),
        probe(
            "list namespaces under it",
            Method::GET,
            "/v1/namespaces?parent={ns}",
            None,
        ),
        probe(
            "list tables",
            Method::GET,
            "/v1/namespaces/{ns}/tables",
            None,
        ),
        probe("list views", Method::GET, "/v1/namespaces/{ns}/views", None),
        probe(
            "load table",
            Method::GET,
            "/v1/namespaces/{ns}/tables/{t}",
            None,
        ),
        probe(
            "table exists",
            Method::HEAD,
            "/v1/namespaces/{ns}/tables/{t}",
            None,
        ),
        probe(
            "load view",
            Method::GET,
            "/v1/namespaces/{ns}/views/{t}",
            None,
        ),
        probe(
            "drop table",
            Method::DELETE,
            "/v1/namespaces/{ns}/tables/{t}",
            None,
        ),
        probe(
            "commit table",
            Method::POST,
            "/v1/namespaces/{ns}/tables/{t}",
            Some(table_change),
        ),
        probe(
            "create table",
            Method::POST,
            "/v1/namespaces/{ns}/tables",
            Some(
                r#"{ "name": "{t}", "schema": { "type": "struct", "schema-id": 0, "fields": [] } }"#,
            ),
        ),
        probe(
            "register table",
            Method::POST,
            "/v1/namespaces/{ns}/register",
            Some(r#"{ "name": "{t}", "metadata-location": "/nowhere/v1.metadata.json" }"#),
        ),
        probe(
            "rename away",
            Method::POST,
            "/v1/tables/rename",
            Some(
                r#"{ "source": { "namespace": ["{ns}"], "name": "{t}" }, "destination": { "namespace": ["pub"], "name": "b" } }"#,
            ),
        ),
        probe(
            "rename onto",
            Method::POST,
            "/v1/tables/rename",
            Some(
                r#"{ "source": { "namespace": ["pub"], "name": "a" }, "destination": { "namespace": ["{ns}"], "name": "{t}" } }"#,
            ),
        ),
        probe(
            "transaction",
            Method::POST,
            "/v1/transactions/commit",
            Some(transaction),
        ),
        probe(
            "update namespace properties",
            Method::POST,
            "/v1/namespaces/{ns}/properties",
            Some(r#"{ "removals": [], "updates": { "k": "v" } }"#),
        ),
        probe(
            "drop namespace",
            Method::DELETE,
            "/v1/namespaces/{ns}",
            None,
        ),
        probe(
            "create namespace",
            Method::POST,
            "/v1/namespaces",
            Some(r#"{ "namespace": ["{ns}"] }"#),
        ),
    ];
    // (namespace, table): what exists, a missing table in it, a missing namespace.
    let targets = [
        ("secret_ns", "hidden_tbl"),
        ("secret_ns", "absent_tbl"),
        ("absent_ns", "hidden_tbl"),
    ];
    for p in &probes {
        let mut answers = Vec::new();
        for (ns, t) in targets {
            let body = p
                .body
                .map(|b| serde_json::from_str(&fill(b, ns, t)).unwrap());
            let (status, _, text) =
                call(p.method.clone(), fill(p.path, ns, t), &public, body).await;
            assert!(
                status.is_client_error(),
                "{}: {ns}.{t} answered {status}: {text}",
                p.what
            );
            answers.push(seen(status, &text, ns, t));
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "{}: answers differ by what exists: {answers:?}",
            p.what
        );
    }

    // Listings show only what a caller reads and the way to it, tokens included.
    let (team, _) = api.login("team", "team-secret").await;
    let listings = [
        (&public, "/v1/namespaces", json!([["pub"]])),
        (&team, "/v1/namespaces", json!([["org"]])),
        (&team, "/v1/namespaces?parent=org", json!([["org", "team"]])),
        (
            &team,
            "/v1/namespaces?parent=org&pageSize=1",
            json!([["org", "team"]]),
        ),
        (
            &admin,
            "/v1/namespaces?parent=org",
            json!([["org", "other"], ["org", "team"]]),
        ),
    ];
    for (token, path, shown) in listings {
        let (status, body, text) = call(Method::GET, path.into(), token, None).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_eq!(body["namespaces"], shown, "{path}");
        assert!(body["next-page-token"].is_null(), "{path}: {text}");
    }
    let (status, _, _) = call(
        Method::GET,
        "/v1/namespaces?parent=org%1Fother".into(),
        &team,
        None,
    )
    .await;
    assert_eq!(status, 403);

    // Another caller's idempotency key gets no kept answer: the same request with the same
    // key runs as this caller's, and is refused.
    let key = "019b0000-0000-7000-8000-000000000001";
    let body = json!({ "namespace": ["secret_ns", "kept"] });
    let keyed = |token: &str| {
        (api.http)
            .post(format!("{}/v1/namespaces", api.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    assert_eq!(keyed(&admin).await.unwrap().status(), 200);
    assert_eq!(keyed(&admin).await.unwrap().status(), 200, "a retry");
    let replayed = keyed(&public).await.unwrap();
    assert_eq!(replayed.status(), 403, "{:?}", replayed.text().await);

    // The hidden table is untouched.
    let (s, _, _) = call(
        Method::GET,
        "/v1/namespaces/secret_ns/tables/hidden_tbl".into(),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);

    // A location inside the hidden table's folder is refused without naming it.
    let (_, loaded, _) = call(
        Method::GET,
        "/v1/namespaces/secret_ns/tables/hidden_tbl".into(),
        &admin,
        None,
    )
    .await;
    let location = loaded["metadata"]["location"].as_str().unwrap().to_string();
    let metadata_location = loaded["metadata-location"].as_str().unwrap().to_string();
    let attempts = [
        (
            "create with an overlapping location",
            "/v1/namespaces/pub/tables",
            json!({ "name": "x", "schema": table_schema(), "location": format!("{location}/inner") }),
        ),
        (
            "register another table's metadata",
            "/v1/namespaces/pub/register",
            json!({ "name": "y", "metadata-location": metadata_location }),
        ),
    ];
    for (what, path, body) in attempts {
        let (status, _, text) = call(Method::POST, path.into(), &public, Some(body)).await;
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains("another table or view"), "{what}: {text}");
        assert!(
            !text.contains("secret_ns.hidden_tbl"),
            "{what} names the table: {text}"
        );
    }
    let log = server.log_text();
    assert!(
        log.contains("overlaps=secret_ns.hidden_tbl"),
        "the operator's log names it"
    );
}
