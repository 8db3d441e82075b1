//! The router built from the route table, over the embedded store and a temporary
//! warehouse: every route is reachable with and without authentication, and with it
//! requests are refused (401, 403) or let through as each route's `Needs` say.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use floe_locks::InProcessLockManager;
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

use super::*;
use crate::auth::{hash_secret, Access, AuthConfig, Grant, StaticTokenConfig};
use crate::store::EmbeddedStore;
use crate::warehouse::Warehouse;

/// A router over a fresh catalog, and the directories that must outlive it.
struct App {
    router: Router,
    _dirs: (TempDir, TempDir),
}

/// A status and the JSON body (`Null` when there is none).
type Answer = (StatusCode, Value);

impl App {
    fn new(auth: bool) -> Self {
        let warehouse = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let catalog = Catalog::new(
            Arc::new(EmbeddedStore::open(data.path()).unwrap()),
            Warehouse::local(warehouse.path()).unwrap(),
            Arc::new(InProcessLockManager::new()),
        );
        let auth = auth.then(|| Arc::new(Authenticator::new(&auth_config()).unwrap()));
        App {
            router: router_with_auth(catalog, auth),
            _dirs: (warehouse, data),
        }
    }

    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `call`, asserting the status.
    async fn expect(&self, want: u16, method: Method, uri: &str, token: &str, body: &str) -> Value {
        let (status, answer) = self.call(method.clone(), uri, Some(token), body).await;
        assert_eq!(status.as_u16(), want, "{method} {uri} {body}: {answer}");
        answer
    }
}

const ADMIN: &str = "admin-token";
const SALES: &str = "sales-token";
const READER: &str = "reader-token";

fn auth_config() -> AuthConfig {
    let token = |name: &str, secret: &str, namespace: &str, access| StaticTokenConfig {
        name: name.into(),
        token_sha256: hash_secret(secret),
        grants: vec![Grant {
            namespace: namespace.into(),
            access,
        }],
    };
    AuthConfig {
        signing_key: "k".repeat(32),
        token_ttl_secs: 60,
        clients: Vec::new(),
        tokens: vec![
            token("admin", ADMIN, "", Access::ReadWrite),
            token("sales", SALES, "sales", Access::ReadWrite),
            token("reader", READER, "", Access::Read),
        ],
    }
}

fn create_table(name: &str) -> String {
    json!({
        "name": name,
        "schema": {"type": "struct", "schema-id": 0, "fields": [
            {"id": 1, "name": "id", "required": true, "type": "long"}
        ]},
    })
    .to_string()
}

/// A create-view body: view `name` over `ns.t`.
fn create_view(name: &str) -> String {
    json!({
        "name": name,
        "schema": {"type": "struct", "schema-id": 0, "fields": [
            {"id": 1, "name": "id", "required": true, "type": "long"}
        ]},
        "view-version": {
            "version-id": 1, "schema-id": 0, "timestamp-ms": 1_700_000_000_000_i64,
            "summary": {}, "default-namespace": ["ns"],
            "representations": [{"type": "sql", "sql": "SELECT id FROM t", "dialect": "spark"}]
        },
        "properties": {}
    })
    .to_string()
}

/// Namespace `ns`, its table `t` and view `v` (and `sales`, `hr.people` for the refusals).
async fn populate(app: &App, token: Option<&str>) {
    for (uri, body) in [
        ("/v1/namespaces", r#"{"namespace":["ns"]}"#.to_string()),
        ("/v1/namespaces/ns/tables", create_table("t")),
        ("/v1/namespaces/ns/views", create_view("v")),
        ("/v1/namespaces", r#"{"namespace":["sales"]}"#.to_string()),
        ("/v1/namespaces", r#"{"namespace":["hr"]}"#.to_string()),
        ("/v1/namespaces/hr/tables", create_table("people")),
    ] {
        let (status, answer) = app.call(Method::POST, uri, token, &body).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {answer}");
    }
}

/// A request with each route's method to its path reaches the route: not the 404 of an
/// unknown path, not 405 (and with an all-powerful token, neither 401 nor 403).
#[tokio::test]
async fn every_route_of_the_table_is_reachable() {
    for auth in [false, true] {
        let app = App::new(auth);
        let token = auth.then_some(ADMIN);
        populate(&app, token).await;
        for route in ROUTES.iter().filter(|r| r.is_served(auth)) {
            let uri = route
                .path
                .replace("{namespace}", "ns")
                .replace("{table}", "t")
                .replace("{view}", "v");
            let (status, answer) = app.call(route.method.clone(), &uri, token, "{}").await;
            let what = format!("{} (auth {auth}): {status} {answer}", route.operation());
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
            assert!(
                !(status == StatusCode::NOT_FOUND
                    && answer["error"]["type"] == "NotFoundException"),
                "{what}"
            );
            assert!(
                ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&status),
                "{what}"
            );
            if route.method == Method::HEAD {
                // No body to tell a handler's 404 from the router's: the thing exists.
                assert_eq!(status, StatusCode::NO_CONTENT, "{what}");
            }
        }
        // And nothing else is served.
        let (status, answer) = app.call(Method::POST, "/v1/something/new", token, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["type"], "NotFoundException");
        let (status, _) = app.call(Method::POST, "/v1/oauth/tokens", None, "").await;
        let want = if auth { 415 } else { 404 };
        assert_eq!(status.as_u16(), want, "the token endpoint only with auth");
    }
}

/// Without a token only the open routes answer, and every other one gets the same 401;
/// unknown paths and methods are 404 and 405 all the same.
#[tokio::test]
async fn without_a_valid_token_only_the_open_routes_answer() {
    let app = App::new(true);
    let missing = app.call(Method::GET, "/v1/namespaces", None, "").await;
    assert_eq!(missing.0, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.1["error"]["type"], "NotAuthorizedException");
    for token in [Some("wrong"), Some("")] {
        assert_eq!(
            app.call(Method::GET, "/v1/namespaces", token, "").await,
            missing
        );
    }
    for route in ROUTES {
        let uri = route
            .path
            .replace("{namespace}", "ns")
            .replace("{table}", "t");
        let (status, answer) = app.call(route.method.clone(), &uri, None, "{}").await;
        let open = route.needs == Needs::Open;
        assert_eq!(
            status == StatusCode::UNAUTHORIZED,
            !open,
            "{}: {status} {answer}",
            route.operation()
        );
    }
    let (status, _) = app.call(Method::POST, "/v1/something/new", None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::DELETE, "/v1/config", None, "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// 403 outside a principal's grants, before the handler for routes that name their
/// namespace in the path or query (whatever the body), after the typed body parsed (a
/// 400 first) for those that name them in the body.
#[tokio::test]
async fn principals_act_only_within_their_grants() {
    let app = App::new(true);
    populate(&app, Some(ADMIN)).await;
    let forbidden = |answer: &Value, message: &str| {
        assert_eq!(answer["error"]["type"], "ForbiddenException", "{answer}");
        assert_eq!(answer["error"]["message"], message, "{answer}");
        assert_eq!(answer["error"]["code"], 403, "{answer}");
    };
    use Method as M;

    // A prefix grant: not /metrics, which names every table; the top level lists only
    // what leads to the grant.
    forbidden(
        &app.expect(403, M::GET, "/metrics", SALES, "").await,
        "sales may not read the whole catalog",
    );
    for uri in ["/v1/namespaces", "/v1/namespaces?parent="] {
        let listed = app.expect(200, M::GET, uri, SALES, "").await;
        assert_eq!(
            listed["namespaces"],
            serde_json::json!([["sales"]]),
            "{uri}"
        );
    }
    app.expect(200, M::GET, "/v1/namespaces?parent=sales", SALES, "")
        .await;
    app.expect(200, M::GET, "/v1/openapi.json", SALES, "").await;
    let answer = app
        .expect(403, M::GET, "/v1/namespaces/hr/tables/people", SALES, "")
        .await;
    forbidden(&answer, "sales may not read namespace hr");
    // A namespace that cannot be read is a 400, not a check of none.
    app.expect(400, M::GET, "/v1/namespaces/%FF/tables", SALES, "")
        .await;
    app.expect(400, M::GET, "/v1/namespaces/a%1F/tables", SALES, "")
        .await;
    app.expect(400, M::GET, "/v1/namespaces?parent=a%1F", SALES, "")
        .await;

    // Read-only: every change is refused before its body is looked at.
    let people = "/v1/namespaces/hr/tables/people";
    forbidden(
        &app.expect(403, M::POST, people, READER, "not json").await,
        "reader may not change namespace hr",
    );
    app.expect(403, M::DELETE, "/v1/namespaces/hr", READER, "")
        .await;
    let answer = app
        .expect(
            403,
            M::POST,
            "/v1/namespaces",
            READER,
            r#"{"namespace":["x"]}"#,
        )
        .await;
    forbidden(&answer, "reader may not change namespace x");
    app.expect(200, M::GET, people, READER, "").await;
    app.expect(200, M::GET, "/metrics", READER, "").await;

    // Bodies that name namespaces: checked after the typed parse.
    let create = "/v1/namespaces";
    app.expect(
        200,
        M::POST,
        create,
        SALES,
        r#"{"namespace":["sales","eu"]}"#,
    )
    .await;
    let answer = app
        .expect(403, M::POST, create, SALES, r#"{"namespace":["hr","x"]}"#)
        .await;
    forbidden(&answer, "sales may not change namespace hr.x");
    let answer = app
        .expect(403, M::POST, create, SALES, r#"{"namespace":[]}"#)
        .await;
    forbidden(&answer, "sales may not change the whole catalog");
    app.expect(400, M::POST, create, SALES, r#"{"namespace":"hr"}"#)
        .await;
    app.expect(400, M::POST, create, SALES, "not json").await;
    let rename = json!({
        "source": { "namespace": ["sales"], "name": "orders" },
        "destination": { "namespace": ["hr"], "name": "orders" },
    });
    let answer = app
        .expect(
            403,
            M::POST,
            "/v1/tables/rename",
            SALES,
            &rename.to_string(),
        )
        .await;
    forbidden(&answer, "sales may not change namespace hr");
    let tx = "/v1/transactions/commit";
    let transaction = json!({ "table-changes": [
        { "identifier": { "namespace": ["sales"], "name": "orders" }, "requirements": [], "updates": [] },
        { "identifier": { "namespace": ["hr"], "name": "people" }, "requirements": [], "updates": [] },
    ]});
    let answer = app
        .expect(403, M::POST, tx, SALES, &transaction.to_string())
        .await;
    forbidden(&answer, "sales may not change namespace hr");
    let anonymous = r#"{"table-changes":[{"requirements":[],"updates":[]}]}"#;
    app.expect(400, M::POST, tx, SALES, anonymous).await;
    app.expect(400, M::POST, tx, SALES, r#"{"table-changes":[{}]}"#)
        .await;
    // Within the grant the handler goes on (here: no such table).
    let own = json!({ "table-changes": [
        { "identifier": { "namespace": ["sales"], "name": "orders" }, "requirements": [], "updates": [] },
    ]});
    app.expect(404, M::POST, tx, SALES, &own.to_string()).await;

    // Views: the grants of their namespace, as tables.
    let view = "/v1/namespaces/ns/views/v";
    app.expect(200, M::GET, view, READER, "").await;
    app.expect(200, M::GET, "/v1/namespaces/ns/views", READER, "")
        .await;
    let answer = app.expect(403, M::POST, view, READER, "{}").await;
    forbidden(&answer, "reader may not change namespace ns");
    let answer = app.expect(403, M::DELETE, view, READER, "").await;
    forbidden(&answer, "reader may not change namespace ns");
    let answer = app
        .expect(
            403,
            M::POST,
            "/v1/namespaces/hr/views",
            SALES,
            &create_view("x"),
        )
        .await;
    forbidden(&answer, "sales may not change namespace hr");
    let answer = app.expect(403, M::GET, view, SALES, "").await;
    forbidden(&answer, "sales may not read namespace ns");
    let answer = app
        .expect(403, M::POST, "/v1/views/rename", SALES, &rename.to_string())
        .await;
    forbidden(&answer, "sales may not change namespace hr");
}
