//! The one declaration of every route the catalog serves: its method and path, whether
//! `/v1/config` lists it, its handler, what a caller needs to use it, and whether it takes
//! an `Idempotency-Key`. The router, the config endpoint, the OpenAPI document and the
//! authorization middleware all read `ROUTES`; nothing else names a route.

use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};

use super::audit::Audit;
use super::{auth, namespaces, observe, tables, views};
use crate::auth::Access::{Read, ReadWrite};
use crate::auth::Needs;
use crate::catalog::Catalog;
use Mount::{Iceberg, Unlisted, WithAuth};

/// When a route is served, and whether `/v1/config` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mount {
    /// Always served; `/v1/config` lists it among the Iceberg endpoints.
    Iceberg,
    /// Always served, not listed: the config endpoint itself, the OpenAPI document and
    /// the operator endpoints.
    Unlisted,
    /// Served only with authentication on, not listed: the token endpoint.
    WithAuth,
}

/// One route: a method on a path template, as the router matches it.
pub(crate) struct Route {
    /// The method; a `GET` route answers `HEAD` too unless a `HEAD` route says otherwise.
    pub method: Method,
    /// The path template, e.g. `/v1/namespaces/{namespace}/tables/{table}`.
    pub path: &'static str,
    /// When it is served and whether `/v1/config` lists it.
    pub mount: Mount,
    /// What a caller needs.
    pub needs: Needs,
    /// Whether it takes an `Idempotency-Key` (the spec's mutating routes).
    pub once: bool,
    /// Which of its requests get an audit line, under which action name (every request
    /// of a mutating route).
    pub audit: Audit,
    /// The handler, on the method filter it is given (the route's method).
    handler: fn(MethodFilter) -> MethodRouter<Catalog>,
}

impl Route {
    /// The handler on the route's method.
    pub(crate) fn method_router(&self) -> MethodRouter<Catalog> {
        let filter = MethodFilter::try_from(self.method.clone()).expect("a routable method");
        (self.handler)(filter)
    }

    /// Whether the router serves the route, with authentication on or off.
    pub(crate) fn is_served(&self, auth: bool) -> bool {
        auth || self.mount != Mount::WithAuth
    }

    /// `METHOD /path`, as the tests name an operation.
    #[cfg(test)]
    pub(crate) fn operation(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A `Route`, as the table below spells one.
const fn route(
    method: Method,
    path: &'static str,
    mount: Mount,
    needs: Needs,
    handler: fn(MethodFilter) -> MethodRouter<Catalog>,
) -> Route {
    entry(method, path, mount, needs, false, Audit::No, handler)
}

/// A mutating Iceberg `Route`, audited under `action`, that takes an `Idempotency-Key`: a
/// retry with the key gets the first answer.
const fn once(
    action: &'static str,
    method: Method,
    path: &'static str,
    needs: Needs,
    handler: fn(MethodFilter) -> MethodRouter<Catalog>,
) -> Route {
    entry(
        method,
        path,
        Iceberg,
        needs,
        true,
        Audit::Always(action),
        handler,
    )
}

const fn entry(
    method: Method,
    path: &'static str,
    mount: Mount,
    needs: Needs,
    once: bool,
    audit: Audit,
    handler: fn(MethodFilter) -> MethodRouter<Catalog>,
) -> Route {
    Route {
        method,
        path,
        mount,
        needs,
        once,
        audit,
        handler,
    }
}

/// Every route, the Iceberg ones in the order `/v1/config` lists them.
pub(crate) const ROUTES: &[Route] = &[
    route(
        Method::GET,
        "/v1/namespaces",
        Iceberg,
        Needs::ParentNamespace(Read),
        |m| on(m, namespaces::list),
    ),
    once(
        "create_namespace",
        Method::POST,
        "/v1/namespaces",
        Needs::BodyNamespaces(ReadWrite),
        |m| on(m, namespaces::create),
    ),
    route(
        Method::GET,
        "/v1/namespaces/{namespace}",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, namespaces::load),
    ),
    route(
        Method::HEAD,
        "/v1/namespaces/{namespace}",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, namespaces::exists),
    ),
    once(
        "drop_namespace",
        Method::DELETE,
        "/v1/namespaces/{namespace}",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, namespaces::drop),
    ),
    once(
        "update_namespace_properties",
        Method::POST,
        "/v1/namespaces/{namespace}/properties",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, namespaces::update_properties),
    ),
    route(
        Method::GET,
        "/v1/namespaces/{namespace}/tables",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, tables::list),
    ),
    once(
        "create_table",
        Method::POST,
        "/v1/namespaces/{namespace}/tables",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, tables::create),
    ),
    route(
        Method::GET,
        "/v1/namespaces/{namespace}/tables/{table}",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, tables::load),
    ),
    route(
        Method::HEAD,
        "/v1/namespaces/{namespace}/tables/{table}",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, tables::exists),
    ),
    once(
        "commit_table",
        Method::POST,
        "/v1/namespaces/{namespace}/tables/{table}",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, tables::commit),
    ),
    once(
        "drop_table",
        Method::DELETE,
        "/v1/namespaces/{namespace}/tables/{table}",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, tables::drop),
    ),
    once(
        "register_table",
        Method::POST,
        "/v1/namespaces/{namespace}/register",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, tables::register),
    ),
    // A metrics report changes nothing: reading the table is enough.
    route(
        Method::POST,
        "/v1/namespaces/{namespace}/tables/{table}/metrics",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, tables::report_metrics),
    ),
    once(
        "rename_table",
        Method::POST,
        "/v1/tables/rename",
        Needs::BodyNamespaces(ReadWrite),
        |m| on(m, tables::rename),
    ),
    once(
        "commit_transaction",
        Method::POST,
        "/v1/transactions/commit",
        Needs::BodyNamespaces(ReadWrite),
        |m| on(m, tables::commit_transaction),
    ),
    route(
        Method::GET,
        "/v1/namespaces/{namespace}/views",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, views::list),
    ),
    // The spec lists no Idempotency-Key for a view create; a retried create is answered
    // once all the same, as a table create is.
    once(
        "create_view",
        Method::POST,
        "/v1/namespaces/{namespace}/views",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, views::create),
    ),
    route(
        Method::GET,
        "/v1/namespaces/{namespace}/views/{view}",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, views::load),
    ),
    route(
        Method::HEAD,
        "/v1/namespaces/{namespace}/views/{view}",
        Iceberg,
        Needs::PathNamespace(Read),
        |m| on(m, views::exists),
    ),
    once(
        "commit_view",
        Method::POST,
        "/v1/namespaces/{namespace}/views/{view}",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, views::commit),
    ),
    once(
        "drop_view",
        Method::DELETE,
        "/v1/namespaces/{namespace}/views/{view}",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, views::drop),
    ),
    once(
        "rename_view",
        Method::POST,
        "/v1/views/rename",
        Needs::BodyNamespaces(ReadWrite),
        |m| on(m, views::rename),
    ),
    once(
        "register_view",
        Method::POST,
        "/v1/namespaces/{namespace}/register-view",
        Needs::PathNamespace(ReadWrite),
        |m| on(m, views::register),
    ),
    route(Method::GET, "/v1/config", Unlisted, Needs::Open, |m| {
        on(m, super::config)
    }),
    route(
        Method::GET,
        "/v1/openapi.json",
        Unlisted,
        Needs::Any(Read),
        |m| on(m, super::openapi),
    ),
    // A failed login is audited (someone may be guessing credentials); a token issued is
    // not: it changes nothing, and clients ask for one often.
    entry(
        Method::POST,
        "/v1/oauth/tokens",
        WithAuth,
        Needs::Open,
        false,
        Audit::Failures("issue_token"),
        |m| on(m, auth::tokens),
    ),
    route(Method::GET, "/health", Unlisted, Needs::Open, |m| {
        on(m, observe::health)
    }),
    route(Method::GET, "/ready", Unlisted, Needs::Open, |m| {
        on(m, observe::ready)
    }),
    route(
        Method::GET,
        "/metrics",
        Unlisted,
        Needs::Catalog(Read),
        |m| on(m, observe::metrics),
    ),
];

/// The Iceberg endpoints, as `/v1/config` lists them: `GET /v1/{prefix}/namespaces`...
pub(crate) fn iceberg_endpoints() -> Vec<String> {
    ROUTES
        .iter()
        .filter(|r| r.mount == Iceberg)
        .map(|r| format!("{} {}", r.method, r.path.replacen("/v1", "/v1/{prefix}", 1)))
        .collect()
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
