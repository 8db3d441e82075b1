//! The audit trail on the real `floe serve --log-format json`: one `floe::audit` line per
//! namespace, table or view each mutating request touched, naming the principal (a
//! client, a static token, `anonymous` with authentication off), the route's action, the
//! outcome, the status and the request id that the answer's `X-Request-Id` carries (the
//! request's own when it sent a plausible one); failed logins too; never a secret.

use std::collections::BTreeSet;
use std::path::Path;

use floe_test_support::auth_api::{request, write_auth_file, Principal};
use floe_test_support::{table_schema, FloeServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE_SECRET: &str = "alice-secret-3f9a";
const BOB_SECRET: &str = "bob-secret-77c1";
const DEPLOYER_TOKEN: &str = "static-deployer-token-51e0";

/// alice may change everything, bob only `sales`; the static token `deployer` everything.
fn auth_file(path: &Path) {
    let all = r#"[{ namespace = "", access = "read-write" }]"#;
    let sales = r#"[{ namespace = "sales", access = "read-write" }]"#;
    let principals = [
        Principal::Client("alice", ALICE_SECRET, all),
        Principal::Client("bob", BOB_SECRET, sales),
        Principal::Token("deployer", DEPLOYER_TOKEN, all),
    ];
    let key = "0123456789abcdef0123456789abcdef-audit";
    write_auth_file(path, key, Some(600), &principals);
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
            auth_file(&file);
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

    /// A request with an optional bearer token and JSON body, and `headers`; the status
    /// and the answer's `X-Request-Id`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let url = format!("{}{path}", self.server.url());
        let mut request = request(&self.http, method, &url, token, body.as_ref());
        for (name, value) in headers {
            request = request.header(*name, *value);
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
        let (status, id) = self.call(method.clone(), path, token, body, &[]).await;
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

/// One request, as a step of a test: who sends it (a token), its method, path and body,
/// the status it gets, and its audit lines (`principal action namespace table outcome
/// status`, `-` for none).
type Step<'a> = (
    Option<&'a str>,
    Method,
    &'a str,
    Option<Value>,
    u16,
    &'a [&'a str],
);

impl Audited {
    /// Runs `steps` in order, checking each one's status and audit lines.
    async fn run(&self, steps: Vec<Step<'_>>) {
        for (token, method, path, body, status, lines) in steps {
            let what = format!("{method} {path}");
            let id = self.expect(status, method, path, token, body).await;
            assert_eq!(self.lines_of(&id), set(lines), "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_requests_leave_one_line_per_table_touched() {
    use Method as M;
    let app = Audited::start(true);
    let (status, body, _) = app.login("alice", ALICE_SECRET).await;
    assert_eq!(status, 200);
    let alice_token = body["access_token"].as_str().unwrap().to_string();
    let (_, body, _) = app.login("bob", BOB_SECRET).await;
    let bob_token = body["access_token"].as_str().unwrap().to_string();
    let (alice, bob) = (Some(alice_token.as_str()), Some(bob_token.as_str()));
    let deployer = Some(DEPLOYER_TOKEN);

    // A request id given is kept; one that is not plausible is replaced by a UUID v7.
    let given = "deploy-2026-12-07.42";
    let namespace = json!({ "namespace": ["sales"] });
    let (status, id) = (app.call(
        M::POST,
        "/v1/namespaces",
        alice,
        Some(namespace),
        &[("x-request-id", given)],
    ))
    .await;
    assert_eq!((status.as_u16(), id.as_str()), (200, given));
    assert_eq!(
        app.lines_of(given),
        set(&["alice create_namespace sales - ok 200"])
    );
    let namespace = json!({ "namespace": ["hr"] });
    let (status, id) = (app.call(
        M::POST,
        "/v1/namespaces",
        deployer,
        Some(namespace),
        &[("x-request-id", "not ok")],
    ))
    .await;
    assert_eq!(status, 200);
    let uuid = uuid::Uuid::parse_str(&id).expect("a generated id is a UUID");
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(
        app.lines_of(&id),
        set(&["deployer create_namespace hr - ok 200"])
    );

    let create = |name: &str| Some(json!({ "name": name, "schema": table_schema() }));
    let orders = "/v1/namespaces/sales/tables/orders";
    let both = || {
        Some(
            json!({ "table-changes": [set_property("sales", "orders"), set_property("hr", "people")] }),
        )
    };
    let rename = json!({
        "source": { "namespace": ["sales"], "name": "items" },
        "destination": { "namespace": ["sales"], "name": "lines" },
    });
    app.run(vec![
        // Creates name their table from the body; a second create is a conflict.
        (
            alice,
            M::POST,
            "/v1/namespaces/sales/tables",
            create("orders"),
            200,
            &["alice create_table sales orders ok 200"],
        ),
        (
            alice,
            M::POST,
            "/v1/namespaces/sales/tables",
            create("items"),
            200,
            &["alice create_table sales items ok 200"],
        ),
        (
            deployer,
            M::POST,
            "/v1/namespaces/hr/tables",
            create("people"),
            200,
            &["deployer create_table hr people ok 200"],
        ),
        (
            bob,
            M::POST,
            "/v1/namespaces/sales/tables",
            create("orders"),
            409,
            &["bob create_table sales orders conflict 409"],
        ),
        // A commit names its table from the path.
        (
            bob,
            M::POST,
            orders,
            Some(set_property("sales", "orders")),
            200,
            &["bob commit_table sales orders ok 200"],
        ),
        // A transaction: one line per table, also when refused (bob may not change hr).
        (
            alice,
            M::POST,
            "/v1/transactions/commit",
            both(),
            204,
            &[
                "alice commit_transaction hr people ok 204",
                "alice commit_transaction sales orders ok 204",
            ],
        ),
        (
            bob,
            M::POST,
            "/v1/transactions/commit",
            both(),
            403,
            &[
                "bob commit_transaction hr people refused 403",
                "bob commit_transaction sales orders refused 403",
            ],
        ),
        (
            bob,
            M::DELETE,
            "/v1/namespaces/hr/tables/people",
            None,
            403,
            &["bob drop_table hr people refused 403"],
        ),
        // A rename: its source and its destination.
        (
            bob,
            M::POST,
            "/v1/tables/rename",
            Some(rename),
            204,
            &[
                "bob rename_table sales items ok 204",
                "bob rename_table sales lines ok 204",
            ],
        ),
        // A drop; without a token, refused and unauthenticated; reads leave no line.
        (
            alice,
            M::DELETE,
            "/v1/namespaces/sales/tables/lines",
            None,
            204,
            &["alice drop_table sales lines ok 204"],
        ),
        (
            None,
            M::DELETE,
            orders,
            None,
            401,
            &["unauthenticated drop_table sales orders refused 401"],
        ),
        (alice, M::GET, orders, None, 200, &[]),
        (alice, M::HEAD, orders, None, 204, &[]),
        // Namespace properties: one line for the namespace.
        (
            bob,
            M::POST,
            "/v1/namespaces/sales/properties",
            Some(json!({ "updates": { "owner": "finance" } })),
            200,
            &["bob update_namespace_properties sales - ok 200"],
        ),
    ])
    .await;

    // A retry with the same Idempotency-Key gets the first answer, marked replayed.
    let key = [("idempotency-key", "0190a3e4-5b6c-7d8e-9f00-112233445566")];
    let path = "/v1/namespaces/sales/properties";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let props = Some(json!({ "updates": { "stage": "2" } }));
        let (status, id) = app.call(M::POST, path, bob, props, &key).await;
        assert_eq!(status, 200);
        assert_eq!(
            app.lines_of(&id),
            set(&["bob update_namespace_properties sales - ok 200"])
        );
        ids.push(id);
    }
    let replayed = |id: &str| {
        let lines = app.audit_lines();
        let line = lines
            .iter()
            .find(|(json, _)| json["fields"]["request_id"] == id);
        line.unwrap().0["fields"].get("replayed").cloned()
    };
    assert_eq!(replayed(&ids[0]), None);
    assert_eq!(replayed(&ids[1]), Some(json!(true)));

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
    assert_eq!(lines.len(), 20, "{lines:#?}");
    let secrets = [
        ALICE_SECRET,
        BOB_SECRET,
        DEPLOYER_TOKEN,
        "wrong-secret",
        &alice_token,
        &bob_token,
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
    let create = |levels: Value| Some(json!({ "namespace": levels }));
    app.run(vec![
        (
            None,
            M::POST,
            "/v1/namespaces",
            create(json!(["a"])),
            200,
            &["anonymous create_namespace a - ok 200"],
        ),
        (
            None,
            M::POST,
            "/v1/namespaces",
            create(json!(["a", "b"])),
            200,
            &["anonymous create_namespace a.b - ok 200"],
        ),
        (
            None,
            M::DELETE,
            "/v1/namespaces/a%1Fb",
            None,
            204,
            &["anonymous drop_namespace a.b - ok 204"],
        ),
        (
            None,
            M::DELETE,
            "/v1/namespaces/a%1Fb/views/v",
            None,
            404,
            &["anonymous drop_view a.b v refused 404"],
        ),
    ])
    .await;
    // Every answer carries an id: an unknown path's, the health pages'.
    let (_, id) = app.call(M::GET, "/ui", None, None, &[]).await;
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let id = app.expect(404, M::GET, "/v1/nowhere", None, None).await;
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}
