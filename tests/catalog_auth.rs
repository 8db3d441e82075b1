//! Authentication on the real `floe serve --auth FILE`: the OAuth2 client-credentials
//! flow and static tokens; 401 for a missing, wrong, tampered or expired token with the
//! same answer each time; 403 for a read-only principal's changes and outside a
//! principal's namespace prefix; `/v1/config` and `/health` open; no secret in the logs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use floe_client::RestClient;
use floe_test_support::auth_api::{
    serve_with_auth, write_auth_file, AuthApi, Principal, SIGNING_KEY,
};
use floe_test_support::changes::Rng;
use floe_test_support::upsert_model::*;
use floe_test_support::{floe_bin, table_schema, FloeServer};
use iceberg::TableIdent;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const EVERYTHING_RW: &str = r#"[{ namespace = "", access = "read-write" }]"#;
const EVERYTHING_R: &str = r#"[{ namespace = "", access = "read" }]"#;

fn write_test_auth_file(path: &Path) {
    write_auth_file(
        path,
        SIGNING_KEY,
        Some(3),
        &[
            Principal::Client("writer", "writer-secret", EVERYTHING_RW),
            Principal::Client("reader", "reader-secret", EVERYTHING_R),
            Principal::Client(
                "sales",
                "sales-secret",
                r#"[{ namespace = "sales", access = "read-write" }]"#,
            ),
            Principal::Token("dashboards", "static-dashboards-token", EVERYTHING_R),
        ],
    );
}

/// A token for `id`, checking the lifetime the server gives it.
async fn login(api: &AuthApi, id: &str, secret: &str) -> String {
    let (token, body) = api.login(id, secret).await;
    assert_eq!(body["expires_in"], 3);
    token
}

fn create_table_body(name: &str) -> Value {
    json!({ "name": name, "schema": table_schema() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_principals_and_refusals() {
    let dirs = tempfile::tempdir().unwrap();
    let server = serve_with_auth(dirs.path(), write_test_auth_file);
    let api = AuthApi::new(server.url());
    use Method as M;

    // Open without a token: the config and the health check.
    assert_eq!(api.call(M::GET, "/v1/config", None, None).await.0, 200);
    assert_eq!(api.call(M::GET, "/health", None, None).await.0, 200);
    // Everything else needs one.
    let (status, body, missing_text) = api.call(M::GET, "/v1/namespaces", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "NotAuthorizedException");
    assert_eq!(api.call(M::GET, "/metrics", None, None).await.0, 401);

    // The token endpoint: wrong secret and unknown client get the same answer.
    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", "writer"),
        ("client_secret", "nope"),
    ];
    let unknown = [
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
        ("client_secret", "writer-secret"),
    ];
    let (s1, b1) = api.token(&wrong).await;
    let (s2, b2) = api.token(&unknown).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(b1, b2);
    assert_eq!(b1["error"], "invalid_client");
    let (status, body) = api
        .token(&[("grant_type", "password"), ("username", "writer")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );

    let writer = login(&api, "writer", "writer-secret").await;
    let reader = login(&api, "reader", "reader-secret").await;
    let sales = login(&api, "sales", "sales-secret").await;
    let dashboards = "static-dashboards-token";
    for ns in ["sales", "hr"] {
        let body = json!({ "namespace": [ns] });
        let (status, _, text) = api
            .call(M::POST, "/v1/namespaces", Some(&writer), Some(body))
            .await;
        assert_eq!(status, 200, "{text}");
    }
    let (status, _, text) = api
        .call(
            M::POST,
            "/v1/namespaces/hr/tables",
            Some(&writer),
            Some(create_table_body("people")),
        )
        .await;
    assert_eq!(status, 200, "{text}");

    // The CLI: client credentials or a token; without either it is refused.
    let show = |auth: &[&str]| {
        std::process::Command::new(floe_bin())
            .args([
                "table",
                "show",
                "--catalog",
                server.url(),
                "--table",
                "hr.people",
            ])
            .args(auth)
            .env_remove("FLOE_TOKEN")
            .env_remove("FLOE_CREDENTIAL")
            .output()
            .unwrap()
    };
    for auth in [
        &["--credential", "reader:reader-secret"][..],
        &["--token", dashboards][..],
    ] {
        let out = show(auth);
        assert!(
            out.status.success(),
            "{auth:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (auth, expect) in [
        (
            &["--credential", "reader:wrong"][..],
            "invalid client credentials",
        ),
        (&[][..], "401"),
    ] {
        let out = show(auth);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expect),
            "{auth:?}: {stderr}"
        );
        assert!(
            !stderr.contains("wrong"),
            "the secret is not echoed: {stderr}"
        );
    }

    // Read-only principals load and list, and get 403 on every change.
    for token in [reader.as_str(), dashboards] {
        assert_eq!(
            api.call(M::GET, "/v1/namespaces", Some(token), None)
                .await
                .0,
            200
        );
        assert_eq!(
            api.call(M::GET, "/v1/namespaces/hr/tables/people", Some(token), None)
                .await
                .0,
            200
        );
        assert_eq!(api.call(M::GET, "/metrics", Some(token), None).await.0, 200);
        let (status, doc, _) = api
            .call(M::GET, "/v1/openapi.json", Some(token), None)
            .await;
        assert_eq!(status, 200);
        assert!(doc["paths"].get("/v1/oauth/tokens").is_some());
        assert_eq!(doc["security"][1], json!({ "BearerAuth": [] }));
        let changes = [
            (
                M::POST,
                "/v1/namespaces",
                Some(json!({ "namespace": ["x"] })),
            ),
            (
                M::POST,
                "/v1/namespaces/hr/tables",
                Some(create_table_body("t")),
            ),
            (
                M::POST,
                "/v1/namespaces/hr/tables/people",
                Some(json!({ "requirements": [], "updates": [] })),
            ),
            (M::DELETE, "/v1/namespaces/hr/tables/people", None),
            (M::DELETE, "/v1/namespaces/hr", None),
            (
                M::POST,
                "/v1/namespaces/hr/properties",
                Some(json!({ "updates": { "a": "b" } })),
            ),
        ];
        for (method, path, body) in changes {
            let (status, body, text) = api.call(method.clone(), path, Some(token), body).await;
            assert_eq!(status, 403, "{method} {path}: {text}");
            assert_eq!(body["error"]["type"], "ForbiddenException");
        }
    }
    // A prefix grant: everything inside `sales`, nothing outside, not /metrics, which
    // names every table; the top-level listing shows `sales` alone (tests/catalog_no_leaks.rs).
    for (path, want) in [
        ("/v1/namespaces?parent=sales", 200),
        ("/v1/namespaces", 200),
        ("/v1/namespaces?parent=", 200),
        ("/metrics", 403),
        ("/v1/openapi.json", 200),
    ] {
        let (status, _, text) = api.call(M::GET, path, Some(&sales), None).await;
        assert_eq!(status.as_u16(), want, "{path}: {text}");
    }
    let (status, _, text) = api
        .call(
            M::POST,
            "/v1/namespaces/sales/tables",
            Some(&sales),
            Some(create_table_body("orders")),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        api.call(
            M::POST,
            "/v1/namespaces",
            Some(&sales),
            Some(json!({ "namespace": ["sales", "eu"] }))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api.call(
            M::GET,
            "/v1/namespaces/hr/tables/people",
            Some(&sales),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        api.call(
            M::POST,
            "/v1/namespaces",
            Some(&sales),
            Some(json!({ "namespace": ["hr", "x"] }))
        )
        .await
        .0,
        403
    );
    let rename = json!({
        "source": { "namespace": ["sales"], "name": "orders" },
        "destination": { "namespace": ["hr"], "name": "orders" },
    });
    assert_eq!(
        api.call(M::POST, "/v1/tables/rename", Some(&sales), Some(rename))
            .await
            .0,
        403
    );
    let transaction = json!({ "table-changes": [
        { "identifier": { "namespace": ["sales"], "name": "orders" }, "requirements": [], "updates": [] },
        { "identifier": { "namespace": ["hr"], "name": "people" }, "requirements": [], "updates": [] },
    ]});
    assert_eq!(
        api.call(
            M::POST,
            "/v1/transactions/commit",
            Some(&sales),
            Some(transaction)
        )
        .await
        .0,
        403
    );
    let (status, _, text) = api
        .call(
            M::POST,
            "/v1/namespaces",
            Some(&sales),
            Some(json!({ "namespace": "sales" })),
        )
        .await;
    assert_eq!(status, 400, "{text}");

    // Tampered and expired tokens get exactly the missing token's answer.
    let mut tampered = writer.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, _, text) = api
        .call(M::GET, "/v1/namespaces", Some(&tampered), None)
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, missing_text.as_str())
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _, text) = api
        .call(M::GET, "/v1/namespaces", Some(&writer), None)
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, missing_text.as_str())
    );
    // Static tokens do not expire.
    assert_eq!(
        api.call(M::GET, "/v1/namespaces", Some(dashboards), None)
            .await
            .0,
        200
    );

    let log = server.log_text();
    for secret in [
        "writer-secret",
        "reader-secret",
        "sales-secret",
        "static-dashboards-token",
        SIGNING_KEY,
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

/// Scheduled compaction works with authentication on (it commits in process, needing no
/// token), and the Rust client (`RestClient::connect_with_token`) writes with a client's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_compaction_and_the_writer_work_with_authentication_on() {
    let dirs = tempfile::tempdir().unwrap();
    let auth_file = dirs.path().join("auth.toml");
    write_test_auth_file(&auth_file);
    let extra = [
        "--auth".to_string(),
        auth_file.display().to_string(),
        "--compaction-interval".to_string(),
        "1s".to_string(),
    ];
    let server = FloeServer::start_with_args(
        &dirs.path().join("warehouse"),
        &dirs.path().join("data"),
        &extra,
    );
    let api = AuthApi::new(server.url());
    // Without a token the client cannot even list; with the writer's it writes.
    let anonymous = RestClient::connect(server.url()).await.unwrap();
    assert!(anonymous
        .load_table(&TableIdent::from_strs(["ns", "t"]).unwrap())
        .await
        .is_err());
    let token = login(&api, "writer", "writer-secret").await;
    let client = RestClient::connect_with_token(server.url(), Some(token))
        .await
        .unwrap();
    let ident = create_table(&client, "compacted", 1).await;
    set_properties(&client, &ident, &[("floe.compaction.min-input-files", "2")]).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let (mut rng, mut model) = (Rng(8), BTreeMap::new());
    for checkpoint in 1..=3 {
        let cp = random_checkpoint(&mut rng, &mut model, 30, 60, checkpoint);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        committed(writer.commit(Some(checkpoint as i64), None).await.unwrap());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let table = client.load_table(&ident).await.unwrap();
        let compacted = table.metadata.snapshots().any(|s| {
            s.summary()
                .additional_properties
                .get("floe.operation")
                .map(String::as_str)
                == Some("compaction")
        });
        if compacted {
            assert_eq!(scan(&table).await, model);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no compaction within 30 s; log:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
