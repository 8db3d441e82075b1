//! The pages' state ([`Ui`]: the catalog reader and the authenticator, if any), the one
//! declaration of every route the pages serve, the router built from it, and the links
//! between pages.

use std::sync::Arc;

use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use floe_rest_catalog::{Authenticator, Catalog};
use floe_table::storage::ObjectStoreStorageFactory;
use iceberg::TableIdent;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::reading::Reader;
use crate::{session, table_page, tables_page};

/// Every table.
pub(crate) const TABLES: &str = "/ui";
/// One table; the namespace's levels are joined by `%1F`, as in the REST API's paths.
pub(crate) const TABLE: &str = "/ui/{namespace}/{table}";
/// The login form (with authentication on).
pub(crate) const LOGIN: &str = "/ui/login";
/// The logout (with authentication on).
pub(crate) const LOGOUT: &str = "/ui/logout";

/// What the pages serve from.
#[derive(Clone)]
pub struct Ui {
    reader: Reader,
    auth: Option<Arc<Authenticator>>,
}

impl Ui {
    /// The pages of `catalog`, the tables' files read with `storage` (the node's own
    /// settings); with `auth`, behind the login form.
    pub fn new(
        catalog: Catalog,
        storage: ObjectStoreStorageFactory,
        auth: Option<Arc<Authenticator>>,
    ) -> Self {
        Ui {
            reader: Reader::new(catalog, storage),
            auth,
        }
    }

    /// The catalog, as the pages read it.
    pub(crate) fn reader(&self) -> &Reader {
        &self.reader
    }

    /// Who checks credentials and tokens; `None` with authentication off.
    pub(crate) fn auth(&self) -> Option<&Authenticator> {
        self.auth.as_deref()
    }
}

/// One route of the pages.
struct Route {
    method: Method,
    path: &'static str,
    /// Served only with authentication on.
    with_auth: bool,
    handler: Handler,
}

/// A route's handler on the method filter it is given.
type Handler = fn(MethodFilter) -> MethodRouter<Ui>;

/// A route served with authentication on or off.
const fn always(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        with_auth: false,
        handler,
    }
}

/// A route served only with authentication on.
const fn with_auth(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        with_auth: true,
        handler,
    }
}

/// Every route.
const ROUTES: &[Route] = &[
    always(Method::GET, TABLES, |m| on(m, tables_page::show)),
    always(Method::GET, TABLE, |m| on(m, table_page::show)),
    with_auth(Method::GET, LOGIN, |m| on(m, session::form)),
    with_auth(Method::POST, LOGIN, |m| on(m, session::login)),
    with_auth(Method::POST, LOGOUT, |m| on(m, session::logout)),
];

/// The pages' router: `GET /ui` and `GET /ui/{namespace}/{table}`, and with
/// authentication on `GET`/`POST /ui/login` and `POST /ui/logout`. It has no fallback,
/// so it merges with the catalog's router.
pub fn router(ui: Ui) -> Router {
    let auth_on = ui.auth.is_some();
    let mut router = Router::new();
    for route in ROUTES.iter().filter(|r| auth_on || !r.with_auth) {
        let filter = MethodFilter::try_from(route.method.clone()).expect("a routable method");
        router = router.route(route.path, (route.handler)(filter));
    }
    router.with_state(ui)
}

/// What a path segment may hold as it is; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The link to a table's page.
pub(crate) fn table_href(ident: &TableIdent) -> String {
    let ns: Vec<String> = (ident.namespace.iter())
        .map(|level| utf8_percent_encode(level, SEGMENT).to_string())
        .collect();
    let name = utf8_percent_encode(&ident.name, SEGMENT);
    format!("{TABLES}/{}/{name}", ns.join("%1F"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::NamespaceIdent;

    #[test]
    fn table_links_encode_each_level_and_join_them_by_unit_separators() {
        let cases: [(&[&str], &str, &str); 3] = [
            (&["db"], "events", "/ui/db/events"),
            (&["sales", "eu"], "orders", "/ui/sales%1Feu/orders"),
            (&["a b"], "x/y?", "/ui/a%20b/x%2Fy%3F"),
        ];
        for (levels, name, href) in cases {
            let ns = NamespaceIdent::from_strs(levels.iter()).expect("a namespace");
            assert_eq!(table_href(&TableIdent::new(ns, name.into())), href);
        }
    }

    #[test]
    fn login_routes_are_served_only_with_authentication() {
        let always: Vec<&str> = (ROUTES.iter())
            .filter(|r| !r.with_auth)
            .map(|r| r.path)
            .collect();
        assert_eq!(always, [TABLES, TABLE]);
        assert!(ROUTES.iter().all(|r| r.path.starts_with(TABLES)));
    }
}
