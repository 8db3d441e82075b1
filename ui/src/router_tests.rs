//! The pages' router over a fresh catalog (the embedded store, a temporary warehouse),
//! its tables made through the catalog's own REST router: the pages list and show them,
//! answer 404 and 400 with an error page, and with authentication on ask for a login,
//! keep the token in the cookie and show only what the grants allow.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use floe_locks::InProcessLockManager;
use floe_rest_catalog::{
    hash_secret, AuthConfig, Authenticator, Catalog, EmbeddedStore, Warehouse,
};
use floe_table::storage::ObjectStoreStorageFactory;
use serde_json::json;
use tempfile::TempDir;
use tower::ServiceExt;

use crate::{router, Ui};

/// The pages and the catalog's REST API over one fresh catalog.
struct App {
    pages: Router,
    rest: Router,
    _dirs: (TempDir, TempDir),
}

/// An answer: status, headers, body text.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// `analyst` reads everything, `seller` only `sales` and below.
fn auth_config() -> AuthConfig {
    let client = |id: &str, namespace: &str| {
        json!({
            "id": id,
            "secret-sha256": hash_secret(&format!("{id}-secret")),
            "grants": [{ "namespace": namespace, "access": "read" }],
        })
    };
    serde_json::from_value(json!({
        "signing-key": "ui-router-tests-signing-key-0123456789",
        "token-ttl-secs": 600,
        "clients": [client("analyst", ""), client("seller", "sales")],
    }))
    .expect("an auth config")
}

impl App {
    async fn new(auth: bool) -> Self {
        let warehouse = tempfile::tempdir().expect("a directory");
        let data = tempfile::tempdir().expect("a directory");
        let catalog = Catalog::new(
            Arc::new(EmbeddedStore::open(data.path()).expect("a store")),
            Warehouse::local(warehouse.path()).expect("a warehouse"),
            Arc::new(InProcessLockManager::new()),
        );
        let auth = auth.then(|| Arc::new(Authenticator::new(&auth_config()).expect("valid")));
        let ui = Ui::new(catalog.clone(), ObjectStoreStorageFactory::default(), auth);
        let app = App {
            pages: router(ui),
            rest: floe_rest_catalog::router(catalog),
            _dirs: (warehouse, data),
        };
        for ns in [vec!["sales"], vec!["sales", "eu"], vec!["hr"]] {
            app.create_namespace(&ns).await;
        }
        app.create_table("sales", "orders").await;
        app.create_table("sales%1Feu", "returns").await;
        app.create_table("hr", "people").await;
        app
    }

    async fn create_namespace(&self, levels: &[&str]) {
        let body = json!({ "namespace": levels }).to_string();
        let answer = call(&self.rest, Method::POST, "/v1/namespaces", body, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    async fn create_table(&self, ns: &str, name: &str) {
        let body = json!({
            "name": name,
            "schema": {
                "type": "struct",
                "schema-id": 0,
                "identifier-field-ids": [1],
                "fields": [
                    { "id": 1, "name": "id", "required": true, "type": "long" },
                    { "id": 2, "name": "note", "required": false, "type": "string" },
                ],
            },
            "properties": { "floe.watermark": "1700000000000" },
        });
        let uri = format!("/v1/namespaces/{ns}/tables");
        let answer = call(&self.rest, Method::POST, &uri, body.to_string(), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> Answer {
        call(&self.pages, Method::GET, uri, String::new(), cookie).await
    }

    async fn login(&self, id: &str, secret: &str) -> Answer {
        let body = format!("client_id={id}&client_secret={secret}");
        call(&self.pages, Method::POST, "/ui/login", body, None).await
    }
}

async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    body: String,
    cookie: Option<&str>,
) -> Answer {
    let content_type = if uri.starts_with("/ui") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request.body(Body::from(body)).expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The names of the tables a list page shows, in order.
fn listed(page: &str) -> Vec<&str> {
    page.split("data-table=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[tokio::test]
async fn without_auth_every_table_is_listed_and_shown() {
    let app = App::new(false).await;
    let list = app.get("/ui", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert_eq!(
        listed(&list.body),
        ["hr.people", "sales.orders", "sales.eu.returns"]
    );
    assert!(
        list.body.contains("href=\"/ui/sales%1Feu/returns\""),
        "{}",
        list.body
    );
    assert!(list.body.contains("data-snapshots=\"0\""));
    assert!(
        list.body.contains("2023-11-14 22:13:20"),
        "the watermark, in UTC"
    );
    assert!(!list.body.contains("<script"), "no script");

    let table = app.get("/ui/sales%1Feu/returns", None).await;
    assert_eq!(table.status, StatusCode::OK, "{}", table.body);
    assert!(table
        .body
        .contains("<h1 id=\"table-name\">sales.eu.returns</h1>"));
    for chart in ["files", "sizes", "commits", "lag"] {
        assert!(
            table.body.contains(&format!("id=\"chart-{chart}\"")),
            "{chart}"
        );
    }
    assert!(
        table.body.contains("no snapshot yet"),
        "the empty history says so"
    );
    assert!(table.body.contains("<td>note</td>") && table.body.contains("<code>long</code>"));
    assert!(
        table.body.contains("<code>floe.watermark</code>"),
        "the properties"
    );
    assert!(table.body.contains("data-data-files=\"0\""));

    // No login without authentication.
    assert_eq!(
        app.get("/ui/login", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unknown_tables_and_bad_names_get_error_pages() {
    let app = App::new(false).await;
    // (path, status, what the page says)
    let cases = [
        (
            "/ui/sales/missing",
            404,
            "table does not exist: sales.missing",
        ),
        ("/ui/nowhere/t", 404, "does not exist"),
        ("/ui/sales%1F/orders", 400, "invalid namespace name"),
        ("/ui/sales/..", 400, "invalid table name"),
        ("/ui/sales/%FF", 400, "UTF-8"),
    ];
    for (path, status, says) in cases {
        let answer = app.get(path, None).await;
        assert_eq!(answer.status.as_u16(), status, "{path}: {}", answer.body);
        assert!(
            answer.header(header::CONTENT_TYPE).starts_with("text/html"),
            "{path}"
        );
        assert!(answer.body.contains("id=\"error-message\""), "{path}");
        assert!(answer.body.contains(says), "{path}: {}", answer.body);
    }
}

#[tokio::test]
async fn with_auth_pages_need_a_login_and_show_only_granted_namespaces() {
    let app = App::new(true).await;
    let anonymous = app.get("/ui", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header(header::LOCATION), "/ui/login");
    let forged = app.get("/ui/hr/people", Some("floe_ui_token=forged")).await;
    assert_eq!(forged.header(header::LOCATION), "/ui/login");

    let form = app.get("/ui/login", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"client_secret\""));

    let wrong = app.login("seller", "analyst-secret").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("Wrong client id or secret."),
        "{}",
        wrong.body
    );
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());

    let right = app.login("seller", "seller-secret").await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    assert_eq!(right.header(header::LOCATION), "/ui");
    let set = right.header(header::SET_COOKIE);
    assert!(
        set.ends_with("; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=600"),
        "{set}"
    );
    let cookie = set.split(';').next().expect("name=value").to_string();

    let list = app.get("/ui", Some(&cookie)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(listed(&list.body), ["sales.orders", "sales.eu.returns"]);
    assert!(list.body.contains("signed in as <strong>seller</strong>"));
    assert_eq!(
        app.get("/ui/sales%1Feu/returns", Some(&cookie))
            .await
            .status,
        StatusCode::OK
    );
    // Outside the grants: 403, whether the table exists or not.
    for path in ["/ui/hr/people", "/ui/hr/missing"] {
        let refused = app.get(path, Some(&cookie)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            refused.body.contains("seller may not read namespace hr"),
            "{}",
            refused.body
        );
    }

    let analyst = app.login("analyst", "analyst-secret").await;
    let cookie = analyst
        .header(header::SET_COOKIE)
        .split(';')
        .next()
        .expect("a cookie")
        .to_string();
    let list = app.get("/ui", Some(&cookie)).await;
    assert_eq!(
        listed(&list.body),
        ["hr.people", "sales.orders", "sales.eu.returns"]
    );

    let out = call(
        &app.pages,
        Method::POST,
        "/ui/logout",
        String::new(),
        Some(&cookie),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.header(header::LOCATION), "/ui/login");
    assert!(out
        .header(header::SET_COOKIE)
        .starts_with("floe_ui_token=; "));
    assert!(out.header(header::SET_COOKIE).ends_with("Max-Age=0"));
}
