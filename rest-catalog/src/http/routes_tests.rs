//! The route table's declarations: what each request needs (from its path namespace,
//! its `parent` or its typed body), which routes leave the check to their handler, and
//! the endpoints `/v1/config` lists.

use iceberg_catalog_rest::{CreateNamespaceRequest, RenameTableRequest};
use serde::de::DeserializeOwned;

use super::*;
use crate::auth::{Access, Need, Scope};
use crate::http::audit::Audit;
use crate::http::auth::{body_needs, NamesNamespaces};
use crate::http::tables::CommitTransactionRequest;

/// The route of `method path` in the table.
fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.as_str() == method && r.path == path)
}

/// What `body`, parsed as `T`, needs at `access`; `Err` when it does not parse or does
/// not say which namespaces it names.
fn typed<T: DeserializeOwned + NamesNamespaces>(
    access: Access,
    body: &str,
) -> Result<Vec<Need>, ()> {
    let parsed: T = serde_json::from_str(body).map_err(|_| ())?;
    body_needs(access, &parsed).map_err(|_| ())
}

/// What a request on the route of `method path` needs: before its handler from the path
/// namespace and `parent`, or from its typed body on the routes that read it there.
fn needs_of(
    method: &str,
    path: &str,
    namespace: Option<&str>,
    parent: Option<&str>,
    body: &str,
) -> Result<Vec<Need>, ()> {
    let route = find(method, path).unwrap_or_else(|| panic!("{method} {path} is a route"));
    match route.needs {
        Needs::BodyNamespaces(access) => match path {
            "/v1/namespaces" => typed::<CreateNamespaceRequest>(access, body),
            "/v1/tables/rename" | "/v1/views/rename" => typed::<RenameTableRequest>(access, body),
            "/v1/transactions/commit" => typed::<CommitTransactionRequest>(access, body),
            other => panic!("the test knows no body type for {other}"),
        },
        needs => needs
            .before_handler(namespace, parent)
            .map(|need| need.into_iter().collect())
            .map_err(|_| ()),
    }
}

/// Method, route, namespace path parameter (decoded), `parent`, body, and what it needs
/// (or an error: a 400).
type NeedCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Result<Vec<Need>, ()>,
);

#[test]
fn requests_need_what_they_touch() {
    let levels = |ns: &str| ns.split('.').map(str::to_string).collect::<Vec<_>>();
    let ns = |s: &str| Scope::Namespace(levels(s));
    let root = || Scope::Namespace(Vec::new());
    let read = |scope| Need {
        scope,
        access: Access::Read,
    };
    let write = |scope| Need {
        scope,
        access: Access::ReadWrite,
    };
    let table = "/v1/namespaces/{namespace}/tables/{table}";
    let namespace = "/v1/namespaces/{namespace}";
    let tx = "/v1/transactions/commit";
    let cases: Vec<NeedCase> = vec![
        // The path's namespace (levels joined by the unit separator); the body, if any,
        // is not looked at.
        (
            "GET",
            table,
            Some("a\u{1f}b"),
            None,
            "",
            Ok(vec![read(ns("a.b"))]),
        ),
        ("HEAD", table, Some("a"), None, "", Ok(vec![read(ns("a"))])),
        (
            "POST",
            table,
            Some("a"),
            None,
            "{}",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "POST",
            table,
            Some("a"),
            None,
            "not json",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "DELETE",
            table,
            Some("a"),
            None,
            "",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "POST",
            "/v1/namespaces/{namespace}/tables/{table}/metrics",
            Some("a"),
            None,
            "{}",
            Ok(vec![read(ns("a"))]),
        ),
        (
            "POST",
            "/v1/namespaces/{namespace}/properties",
            Some("a"),
            None,
            "{}",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "GET",
            namespace,
            Some("a"),
            None,
            "",
            Ok(vec![read(ns("a"))]),
        ),
        (
            "HEAD",
            namespace,
            Some("a"),
            None,
            "",
            Ok(vec![read(ns("a"))]),
        ),
        (
            "DELETE",
            namespace,
            Some("a"),
            None,
            "",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "GET",
            "/v1/namespaces/{namespace}/tables",
            Some("a"),
            None,
            "",
            Ok(vec![read(ns("a"))]),
        ),
        (
            "POST",
            "/v1/namespaces/{namespace}/tables",
            Some("a"),
            None,
            "{}",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "POST",
            "/v1/namespaces/{namespace}/register",
            Some("a"),
            None,
            "{}",
            Ok(vec![write(ns("a"))]),
        ),
        // A path namespace that cannot be read is refused, never taken as none.
        ("GET", table, Some("a\u{1f}"), None, "", Err(())),
        ("GET", table, Some(""), None, "", Err(())),
        ("GET", table, None, None, "", Err(())),
        // The top level: the whole catalog, without a parent or with an empty one.
        (
            "GET",
            "/v1/namespaces",
            None,
            None,
            "",
            Ok(vec![read(root())]),
        ),
        (
            "GET",
            "/v1/namespaces",
            None,
            Some(""),
            "",
            Ok(vec![read(root())]),
        ),
        (
            "GET",
            "/v1/namespaces",
            None,
            Some("a"),
            "",
            Ok(vec![read(ns("a"))]),
        ),
        (
            "GET",
            "/v1/namespaces",
            None,
            Some("a\u{1f}b"),
            "",
            Ok(vec![read(ns("a.b"))]),
        ),
        ("GET", "/v1/namespaces", None, Some("a\u{1f}"), "", Err(())),
        // The namespaces the typed body names.
        (
            "POST",
            "/v1/namespaces",
            None,
            None,
            r#"{"namespace":["a","b"]}"#,
            Ok(vec![write(ns("a.b"))]),
        ),
        (
            "POST",
            "/v1/namespaces",
            None,
            None,
            r#"{"namespace":[]}"#,
            Ok(vec![write(root())]),
        ),
        (
            "POST",
            "/v1/namespaces",
            None,
            None,
            r#"{"namespace":"a"}"#,
            Err(()),
        ),
        ("POST", "/v1/namespaces", None, None, "not json", Err(())),
        (
            "POST",
            "/v1/tables/rename",
            None,
            None,
            r#"{"source":{"namespace":["a"],"name":"t"},"destination":{"namespace":["b"],"name":"u"}}"#,
            Ok(vec![write(ns("a")), write(ns("b"))]),
        ),
        (
            "POST",
            "/v1/tables/rename",
            None,
            None,
            r#"{"source":{"namespace":["a"],"name":"t"}}"#,
            Err(()),
        ),
        (
            "POST",
            "/v1/views/rename",
            None,
            None,
            r#"{"source":{"namespace":["a"],"name":"v"},"destination":{"namespace":["b"],"name":"w"}}"#,
            Ok(vec![write(ns("a")), write(ns("b"))]),
        ),
        (
            "GET",
            "/v1/namespaces/{namespace}/views/{view}",
            Some("a"),
            None,
            "",
            Ok(vec![read(ns("a"))]),
        ),
        (
            "POST",
            "/v1/namespaces/{namespace}/register-view",
            Some("a"),
            None,
            "{}",
            Ok(vec![write(ns("a"))]),
        ),
        (
            "POST",
            tx,
            None,
            None,
            r#"{"table-changes":[
                {"identifier":{"namespace":["x"],"name":"t"},"requirements":[],"updates":[]},
                {"identifier":{"namespace":["y"],"name":"u"},"requirements":[],"updates":[]}]}"#,
            Ok(vec![write(ns("x")), write(ns("y"))]),
        ),
        ("POST", tx, None, None, r#"{"table-changes":[{}]}"#, Err(())),
        (
            "POST",
            tx,
            None,
            None,
            r#"{"table-changes":[{"requirements":[],"updates":[]}]}"#,
            Err(()),
        ),
        ("POST", tx, None, None, r#"{"table-changes":{}}"#, Err(())),
        // The whole catalog, any grant, nothing.
        ("GET", "/metrics", None, None, "", Ok(vec![read(root())])),
        (
            "GET",
            "/v1/openapi.json",
            None,
            None,
            "",
            Ok(vec![read(Scope::Anywhere)]),
        ),
        ("GET", "/v1/config", None, None, "", Ok(vec![])),
        ("POST", "/v1/oauth/tokens", None, None, "", Ok(vec![])),
        ("GET", "/health", None, None, "", Ok(vec![])),
        ("GET", "/ready", None, None, "", Ok(vec![])),
    ];
    for (method, path, namespace, parent, body, want) in cases {
        let got = needs_of(method, path, namespace, parent, body);
        assert_eq!(got, want, "{method} {path} {namespace:?} {parent:?} {body}");
    }
    // A path that is no route needs nothing: the router answers 404 before any check.
    assert!(find("POST", "/v1/something/new").is_none());
}

#[test]
fn only_changes_that_name_namespaces_in_the_body_are_read() {
    let cases = [
        ("/v1/namespaces", "POST", true),
        ("/v1/namespaces", "GET", false),
        ("/v1/tables/rename", "POST", true),
        ("/v1/transactions/commit", "POST", true),
        ("/v1/views/rename", "POST", true),
        ("/v1/namespaces/{namespace}/views/{view}", "POST", false),
        ("/v1/namespaces/{namespace}/tables", "POST", false),
        ("/v1/namespaces/{namespace}/tables/{table}", "POST", false),
        ("/v1/namespaces/{namespace}/properties", "POST", false),
    ];
    for (path, method, read) in cases {
        let route = find(method, path).unwrap_or_else(|| panic!("{method} {path}"));
        let in_body = matches!(route.needs, Needs::BodyNamespaces(_));
        assert_eq!(in_body, read, "{method} {path}");
    }
    // No other route leaves its check to the handler.
    let body_routes: Vec<String> = ROUTES
        .iter()
        .filter(|r| matches!(r.needs, Needs::BodyNamespaces(_)))
        .map(Route::operation)
        .collect();
    assert_eq!(
        body_routes,
        [
            "POST /v1/namespaces",
            "POST /v1/tables/rename",
            "POST /v1/transactions/commit",
            "POST /v1/views/rename"
        ]
    );
}

#[test]
fn the_config_endpoint_lists_the_iceberg_routes_in_order() {
    let want = [
        "GET /v1/{prefix}/namespaces",
        "POST /v1/{prefix}/namespaces",
        "GET /v1/{prefix}/namespaces/{namespace}",
        "HEAD /v1/{prefix}/namespaces/{namespace}",
        "DELETE /v1/{prefix}/namespaces/{namespace}",
        "POST /v1/{prefix}/namespaces/{namespace}/properties",
        "GET /v1/{prefix}/namespaces/{namespace}/tables",
        "POST /v1/{prefix}/namespaces/{namespace}/tables",
        "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        "POST /v1/{prefix}/namespaces/{namespace}/register",
        "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
        "POST /v1/{prefix}/tables/rename",
        "POST /v1/{prefix}/transactions/commit",
        "GET /v1/{prefix}/namespaces/{namespace}/views",
        "POST /v1/{prefix}/namespaces/{namespace}/views",
        "GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
        "HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}",
        "POST /v1/{prefix}/namespaces/{namespace}/views/{view}",
        "DELETE /v1/{prefix}/namespaces/{namespace}/views/{view}",
        "POST /v1/{prefix}/views/rename",
        "POST /v1/{prefix}/namespaces/{namespace}/register-view",
    ];
    assert_eq!(iceberg_endpoints(), want);
}

#[test]
fn each_operation_is_declared_once() {
    let mut seen = std::collections::HashSet::new();
    for route in ROUTES {
        assert!(
            seen.insert(route.operation()),
            "{} twice",
            route.operation()
        );
    }
}

/// The audit trail covers exactly the mutating routes (those that take an
/// `Idempotency-Key`), each under its own snake_case action, plus failed logins.
#[test]
fn mutating_routes_and_failed_logins_are_audited_under_their_own_action() {
    let mut actions = std::collections::HashSet::new();
    for route in ROUTES {
        let op = route.operation();
        match route.audit {
            Audit::Always(_) => assert!(route.once, "{op} audited but not mutating"),
            Audit::Failures(_) => assert_eq!(op, "POST /v1/oauth/tokens"),
            Audit::No => assert!(!route.once, "{op} mutating but not audited"),
        }
        if let Some(action) = route.audit.action() {
            assert!(
                action.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{action}"
            );
            assert!(actions.insert(action), "action {action} twice");
        }
    }
    let audited = |method: &str, path: &str| find(method, path).and_then(|r| r.audit.action());
    assert_eq!(
        audited("POST", "/v1/transactions/commit"),
        Some("commit_transaction")
    );
    assert_eq!(
        audited("DELETE", "/v1/namespaces/{namespace}/tables/{table}"),
        Some("drop_table")
    );
    assert_eq!(
        audited("POST", "/v1/namespaces/{namespace}/tables/{table}/metrics"),
        None
    );
    assert_eq!(
        audited("GET", "/v1/namespaces/{namespace}/tables/{table}"),
        None
    );
}
