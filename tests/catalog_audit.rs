//! The audit trail on the real `floe serve --log-format json`: one `floe::audit` line per
//! namespace, table or view each mutating request touched, naming the principal (a
//! client, a static token, `anonymous` with authentication off), the route's action, the
//! outcome, the status and the request id that the answer's `X-Request-Id` carries (the
//! request's own when it sent a plausible one); failed logins too; never a secret.

use std::collections::BTreeSet;
use std::path::Path;

use floe_rest_catalog::hash_secret;
use floe_test_support::{table_schema, FloeServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE_SECRET: &str = "alice-secret-3f9a";
const BOB_SECRET: &str = "bob-secret-77c1";
const DEPLOYER_TOKEN: &str = "static-deployer-token-51e0";

fn write_auth_file(path: &Path) {
    let text = format!(
        r#"
signing-key = "0123456789abcdef0123456789abcdef-audit"
token-ttl-secs = 600

[[clients]]
id = "alice"
secret-sha256 = "{alice}"
grants = [{{ namespace = "", access = "read-write" }}]

[[clients]]
id = "bob"
secret-sha256 = "{bob}"
grants = [{{ namespace = "sales", access = "read-write" }}]

[[tokens]]
name = "deployer"
token-sha256 = "{deployer}"
grants = [{{ namespace = "", access = "read-write" }}]
"#,
        alice = hash_secret(ALICE_SECRET),
        bob = hash_secret(BOB_SECRET),
        deployer = hash_secret(DEPLOYER_TOKEN),
    );
    std::fs::write(path, text).unwrap();
}

/// One server, its log and a client.
struct Audited {
    server: FloeServer,
    http: reqwest::Client,
    _dirs: tempfile::TempDir,
}

impl Audited {
    /// `floe serve --log-format json`, with `--auth` when `auth`.
    fn start(auth: bool) -> Self {
        let dirs = tempfile::tempdir().unwrap();
        let mut extra = vec!["--log-format".to_string(), "json".to_string()];
        if auth {
            let file = dirs.path().join("auth.toml");
            write_auth_file(&file);
            extra.extend(["--auth".to_string(), file.display().to_string()]);
        }
        let server = FloeServer::start_with_args(
            &dirs.path().join("warehouse"),
            &dirs.path().join("data"),
            &extra,
        );
        Audited {
            server,
            http: reqwest::Client::new(),
            _dirs: dirs,
        }
    }

    /// A request with an optional bearer token, JSON body and `X-Request-Id`; the status
    /// and the answer's `X-Request-Id`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        request_id: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        (response.status(), id)
    }

    /// `call`, asserting the status; the answer's request id.
    async fn expect(
        &self,
        want: u16,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> String {
        let (status, id) = self.call(method.clone(), path, token, body, None).await;
        assert_eq!(status.as_u16(), want, "{method} {path}");
        id
    }

    async fn login(&self, id: &str, secret: &str) -> (StatusCode, Value, String) {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ];
        let url = format!("{}/v1/oauth/tokens", self.server.url());
        let response = self.http.post(url).form(&form).send().await.unwrap();
        let status = response.status();
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        (status, response.json().await.unwrap(), request_id)
    }

    /// The audit lines logged so far, as JSON, with their text.
    fn audit_lines(&self) -> Vec<(Value, String)> {
        self.server
            .log_text()
            .lines()
            .filter_map(|line| Some((serde_json::from_str::<Value>(line).ok()?, line.to_string())))
            .filter(|(json, _)| json["target"] == "floe::audit")
            .collect()
    }

    /// The fields of the audit lines of request `id`, as `principal action namespace table
    /// outcome status`, sorted.
    fn lines_of(&self, id: &str) -> BTreeSet<String> {
        let lines = self.audit_lines();
        let of: BTreeSet<String> = lines
            .iter()
            .map(|(json, _)| &json["fields"])
            .filter(|f| f["request_id"] == id)
            .map(|f| {
                assert_eq!(f["message"], "audit");
                let text = |k: &str| f[k].as_str().unwrap_or("-").to_string();
                format!(
                    "{} {} {} {} {} {}",
                    text("principal"),
                    text("action"),
                    text("namespace"),
                    text("table"),
                    text("outcome"),
                    f["status"]
                )
            })
            .collect();
        let count = lines
            .iter()
            .filter(|(json, _)| json["fields"]["request_id"] == id)
            .count();
        assert_eq!(count, of.len(), "no line twice for {id}");
        of
    }
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

fn set_property(ns: &str, table: &str) -> Value {
    json!({
        "identifier": { "namespace": [ns], "name": table },
        "requirements": [],
        "updates": [{ "action": "set-properties", "updates": { "audited": "yes" } }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_requests_leave_one_line_per_table_touched() {
    use Method as M;
    let app = Audited::start(true);
    let (status, body, _) = app.login("alice", ALICE_SECRET).await;
    assert_eq!(status, 200);
    let alice = body["access_token"].as_str().unwrap().to_string();
    let (_, body, _) = app.login("bob", BOB_SECRET).await;
    let bob = body["access_token"].as_str().unwrap().to_string();
    let (alice, bob, deployer) = (
        Some(alice.as_str()),
        Some(bob.as_str()),
        Some(DEPLOYER_TOKEN),
    );

    // A request id given is kept; one that is not plausible is replaced.
    let given = "deploy-2026-12-07.42";
    let namespace = json!({ "namespace": ["sales"] });
    let (status, id) = app
        .call(
            M::POST,
            "/v1/namespaces",
            alice,
            Some(namespace),
            Some(given),
        )
        .await;
    assert_eq!((status.as_u16(), id.as_str()), (200, given));
    assert_eq!(
        app.lines_of(given),
        set(&["alice create_namespace sales - ok 200"])
    );
    let namespace = json!({ "namespace": ["hr"] });
    let (status, id) = app
        .call(
            M::POST,
            "/v1/namespaces",
            deployer,
            Some(namespace),
            Some("not ok"),
        )
        .await;
    assert_eq!(status, 200);
    let uuid = uuid::Uuid::parse_str(&id).expect("a generated id is a UUID");
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(
        app.lines_of(&id),
        set(&["deployer create_namespace hr - ok 200"])
    );

    // Creates name their table from the body; a second create is a conflict.
    for (token, ns, table) in [
        (alice, "sales", "orders"),
        (alice, "sales", "items"),
        (deployer, "hr", "people"),
    ] {
        let body = json!({ "name": table, "schema": table_schema() });
        let path = format!("/v1/namespaces/{ns}/tables");
        let id = app.expect(200, M::POST, &path, token, Some(body)).await;
        let who = if ns == "hr" { "deployer" } else { "alice" };
        assert_eq!(
            app.lines_of(&id),
            set(&[&format!("{who} create_table {ns} {table} ok 200")])
        );
    }
    let body = json!({ "name": "orders", "schema": table_schema() });
    let id = app
        .expect(409, M::POST, "/v1/namespaces/sales/tables", bob, Some(body))
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["bob create_table sales orders conflict 409"])
    );

    // A commit names its table from the path.
    let path = "/v1/namespaces/sales/tables/orders";
    let id = app
        .expect(
            200,
            M::POST,
            path,
            bob,
            Some(set_property("sales", "orders")),
        )
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["bob commit_table sales orders ok 200"])
    );

    // A transaction: one line per table.
    let changes =
        json!({ "table-changes": [set_property("sales", "orders"), set_property("hr", "people")] });
    let id = app
        .expect(
            204,
            M::POST,
            "/v1/transactions/commit",
            alice,
            Some(changes),
        )
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&[
            "alice commit_transaction hr people ok 204",
            "alice commit_transaction sales orders ok 204",
        ])
    );
    // Refused, with the principal: bob may not change hr, so neither table changes.
    let changes =
        json!({ "table-changes": [set_property("sales", "orders"), set_property("hr", "people")] });
    let id = app
        .expect(403, M::POST, "/v1/transactions/commit", bob, Some(changes))
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&[
            "bob commit_transaction hr people refused 403",
            "bob commit_transaction sales orders refused 403",
        ])
    );
    let id = app
        .expect(403, M::DELETE, "/v1/namespaces/hr/tables/people", bob, None)
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["bob drop_table hr people refused 403"])
    );

    // A rename: its source and its destination.
    let rename = json!({
        "source": { "namespace": ["sales"], "name": "items" },
        "destination": { "namespace": ["sales"], "name": "lines" },
    });
    let id = app
        .expect(204, M::POST, "/v1/tables/rename", bob, Some(rename))
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&[
            "bob rename_table sales items ok 204",
            "bob rename_table sales lines ok 204"
        ])
    );

    // A drop; without a token, refused and unauthenticated; reads leave no line.
    let id = app
        .expect(
            204,
            M::DELETE,
            "/v1/namespaces/sales/tables/lines",
            alice,
            None,
        )
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["alice drop_table sales lines ok 204"])
    );
    let id = app
        .expect(
            401,
            M::DELETE,
            "/v1/namespaces/sales/tables/orders",
            None,
            None,
        )
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["unauthenticated drop_table sales orders refused 401"])
    );
    let id = app.expect(200, M::GET, path, alice, None).await;
    assert_eq!(app.lines_of(&id), set(&[]));
    let id = app.expect(204, M::HEAD, path, alice, None).await;
    assert_eq!(app.lines_of(&id), set(&[]));

    // Namespace properties: one line for the namespace.
    let props = json!({ "updates": { "owner": "finance" }, "removals": [] });
    let id = app
        .expect(
            200,
            M::POST,
            "/v1/namespaces/sales/properties",
            bob,
            Some(props),
        )
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["bob update_namespace_properties sales - ok 200"])
    );

    // A failed login names the client it claimed; a login is not audited.
    let (status, _, id) = app.login("alice", "wrong-secret").await;
    assert_eq!(status, 401);
    assert_eq!(
        app.lines_of(&id),
        set(&["alice issue_token - - refused 401"])
    );
    let (status, _, id) = app.login("bob", BOB_SECRET).await;
    assert_eq!(status, 200);
    assert_eq!(app.lines_of(&id), set(&[]));

    // Nothing secret in any audit line.
    let lines = app.audit_lines();
    assert_eq!(lines.len(), 18, "{lines:#?}");
    let secrets = [
        ALICE_SECRET,
        BOB_SECRET,
        DEPLOYER_TOKEN,
        "wrong-secret",
        alice.unwrap(),
        bob.unwrap(),
        "Bearer",
        "bearer",
    ];
    for (_, text) in &lines {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_authentication_the_principal_is_anonymous() {
    use Method as M;
    let app = Audited::start(false);
    let body = Some(json!({ "namespace": ["a"] }));
    app.expect(200, M::POST, "/v1/namespaces", None, body).await;
    let id = app
        .expect(
            200,
            M::POST,
            "/v1/namespaces",
            None,
            Some(json!({ "namespace": ["a", "b"] })),
        )
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["anonymous create_namespace a.b - ok 200"])
    );
    let id = app
        .expect(204, M::DELETE, "/v1/namespaces/a%1Fb", None, None)
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["anonymous drop_namespace a.b - ok 204"])
    );
    let id = app
        .expect(404, M::DELETE, "/v1/namespaces/a%1Fb/views/v", None, None)
        .await;
    assert_eq!(
        app.lines_of(&id),
        set(&["anonymous drop_view a.b v refused 404"])
    );
    // Every answer carries an id, an unknown path's too.
    let id = app.expect(404, M::GET, "/v1/nowhere", None, None).await;
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}
