//! The audit trail: one `floe::audit` event per namespace, table or view a mutating
//! request touched (who, which route's action, what, the outcome, the HTTP status and the
//! request id), written by one middleware on the routes that declare an action
//! (`routes::ROUTES`). What a request touched comes from its path (`{namespace}`,
//! `{table}`, `{view}`) unless its handler names it from the body ([`Touched`]); who made
//! it comes from the authorization middleware ([`PrincipalName`]). An answer replayed
//! for a retried `Idempotency-Key` says `replayed = true`: nothing was done again (and
//! only what the path names is known). No line carries a secret, a token or a header.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use iceberg::{NamespaceIdent, TableIdent};
use iceberg_catalog_rest::RenameTableRequest;

use super::auth::PrincipalName;
use super::request_id::RequestId;
use crate::auth::Authenticator;
use crate::names::NAMESPACE_SEPARATOR;

/// The tracing target of the audit lines.
pub const AUDIT_TARGET: &str = "floe::audit";

/// Which requests of a route get an audit line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Audit {
    /// None (reads, operator endpoints).
    No,
    /// Every request, under this action name.
    Always(&'static str),
    /// Only the refused ones (failed logins at the token endpoint), under this action name.
    Failures(&'static str),
}

impl Audit {
    /// The action, when the route is audited.
    pub(crate) fn action(self) -> Option<&'static str> {
        match self {
            Audit::No => None,
            Audit::Always(action) | Audit::Failures(action) => Some(action),
        }
    }
}

/// What became of an audited request, from its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx: done.
    Ok,
    /// 409 or 412: another change or an existing name came first; nothing changed.
    Conflict,
    /// Any other 4xx (401, 403, 400, 404, 413, 422...): refused; nothing changed.
    Refused,
    /// `CommitStateUnknownException` (503): the change may or may not have landed.
    Unknown,
    /// Any other answer (other 5xx): the catalog failed and reported nothing as applied.
    Error,
}

impl Outcome {
    /// The outcome of an answer with `status`; `state_unknown` when the answer is a
    /// `CommitStateUnknownException`.
    pub(crate) fn of(status: StatusCode, state_unknown: bool) -> Self {
        match status.as_u16() {
            200..=299 => Outcome::Ok,
            409 | 412 => Outcome::Conflict,
            400..=499 => Outcome::Refused,
            _ if state_unknown => Outcome::Unknown,
            _ => Outcome::Error,
        }
    }

    /// Its name in the audit line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Conflict => "conflict",
            Outcome::Refused => "refused",
            Outcome::Unknown => "unknown",
            Outcome::Error => "error",
        }
    }
}

/// Response extension of an answer whose commit outcome is unknown (set where catalog
/// errors become answers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateUnknown;

/// Response extension of an answer replayed for a retry with the same `Idempotency-Key`:
/// nothing was done again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replayed;

/// The principal of a request with authentication off.
pub const ANONYMOUS: &str = "anonymous";
/// The principal of a request refused before it authenticated (no or a bad token).
pub const UNAUTHENTICATED: &str = "unauthenticated";

/// One thing a request touched: a namespace (dot-separated levels), and a table or view in
/// it, if any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Target {
    namespace: String,
    name: Option<String>,
}

impl Target {
    fn namespace(levels: &[String]) -> Self {
        Target {
            namespace: levels.join("."),
            name: None,
        }
    }
}

/// Extractor for the handlers that name what they touch from the request body (a
/// create's new name, a rename's both ends, each table of a transaction). Naming nothing
/// leaves what the path names. Each is listed once, in name order.
#[derive(Clone, Default)]
pub(crate) struct Touched(Arc<Mutex<BTreeSet<Target>>>);

impl Touched {
    /// The request touches `ident` (a table or a view).
    pub(crate) fn table(&self, ident: &TableIdent) {
        let mut target = Target::namespace(&ident.namespace);
        target.name = Some(ident.name.clone());
        self.push(target);
    }

    /// The request touches `name` (a table or a view) in namespace `ns`.
    pub(crate) fn named(&self, ns: &NamespaceIdent, name: &str) {
        self.table(&TableIdent::new(ns.clone(), name.to_string()));
    }

    /// A rename touches its source and its destination.
    pub(crate) fn renamed(&self, request: &RenameTableRequest) {
        self.table(&request.source);
        self.table(&request.destination);
    }

    /// The request touches namespace `ns` itself.
    pub(crate) fn namespace(&self, ns: &NamespaceIdent) {
        self.push(Target::namespace(ns));
    }

    fn push(&self, target: Target) {
        let mut touched = self.0.lock().unwrap_or_else(|e| e.into_inner());
        touched.insert(target);
    }

    fn take(&self) -> Vec<Target> {
        let touched = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        touched.into_iter().collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Touched {
    type Rejection = std::convert::Infallible;

    /// The audit middleware's list; a list nobody reads on a route it does not wrap.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Touched>()
            .cloned()
            .unwrap_or_default())
    }
}

/// What the path of a request names: its `{namespace}` and `{table}` or `{view}`.
async fn path_target(parts: &mut Parts) -> Option<Target> {
    let params = RawPathParams::from_request_parts(parts, &()).await.ok()?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let namespace = param("namespace")?;
    Some(Target {
        namespace: namespace.replace(NAMESPACE_SEPARATOR, "."),
        name: param("table").or_else(|| param("view")),
    })
}

/// The middleware of an audited route: runs the request, then writes its lines.
pub(super) async fn audit(State(audit): State<Audit>, request: Request, next: Next) -> Response {
    let Some(action) = audit.action() else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let from_path = path_target(&mut parts).await;
    let request_id = parts.extensions.get::<RequestId>().cloned();
    let auth_on = parts.extensions.get::<Arc<Authenticator>>().is_some();
    let touched = Touched::default();
    parts.extensions.insert(touched.clone());
    let response = next.run(Request::from_parts(parts, body)).await;

    let status = response.status();
    let outcome = Outcome::of(
        status,
        response.extensions().get::<StateUnknown>().is_some(),
    );
    if audit == Audit::Failures(action) && outcome == Outcome::Ok {
        return response;
    }
    let principal = match response.extensions().get::<PrincipalName>() {
        Some(p) => p.0.as_str(),
        None if auth_on => UNAUTHENTICATED,
        None => ANONYMOUS,
    };
    let mut targets = touched.take();
    if targets.is_empty() {
        targets.extend(from_path);
    }
    let request_id = request_id.as_ref().map_or("", RequestId::as_str);
    let line = Line {
        principal,
        action,
        outcome,
        status,
        request_id,
        replayed: response.extensions().get::<Replayed>().is_some(),
    };
    if targets.is_empty() {
        line.write(None);
    }
    for target in &targets {
        line.write(Some(target));
    }
    response
}

/// The fields of a request's audit lines but what it touched.
struct Line<'a> {
    principal: &'a str,
    action: &'static str,
    outcome: Outcome,
    status: StatusCode,
    request_id: &'a str,
    replayed: bool,
}

impl Line<'_> {
    /// The one place an audit line is written: `target` is what it touched (none for a
    /// request that names nothing, such as a failed login).
    fn write(&self, target: Option<&Target>) {
        tracing::info!(
            target: AUDIT_TARGET,
            principal = self.principal,
            action = self.action,
            namespace = target.map(|t| t.namespace.as_str()),
            table = target.and_then(|t| t.name.as_deref()),
            outcome = self.outcome.as_str(),
            status = self.status.as_u16(),
            request_id = self.request_id,
            replayed = self.replayed.then_some(true),
            "audit"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_of_answers() {
        let cases = [
            (200, false, "ok"),
            (204, false, "ok"),
            (409, false, "conflict"),
            (412, false, "conflict"),
            (400, false, "refused"),
            (401, false, "refused"),
            (403, false, "refused"),
            (404, false, "refused"),
            (413, false, "refused"),
            (422, false, "refused"),
            (503, true, "unknown"),
            (503, false, "error"),
            (500, false, "error"),
        ];
        for (status, unknown, want) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(Outcome::of(status, unknown).as_str(), want, "{status}");
        }
    }

    #[test]
    fn a_claimed_client_id_is_cut_short() {
        let cases = [
            ("alice", "alice"),
            ("é".repeat(200).as_str(), "é".repeat(128).as_str()),
        ]
        .map(|(given, kept)| (given.to_string(), kept.to_string()));
        for (given, kept) in cases {
            assert_eq!(PrincipalName::claimed(&given).0, kept);
        }
    }

    #[test]
    fn touched_targets_are_listed_once_in_order() {
        let touched = Touched::default();
        let t = |ns: &str, name: &str| {
            TableIdent::new(NamespaceIdent::new(ns.to_string()), name.to_string())
        };
        touched.namespace(&NamespaceIdent::from_vec(vec!["c".into(), "d".into()]).unwrap());
        touched.table(&t("b", "y"));
        touched.table(&t("a", "x"));
        touched.named(&NamespaceIdent::new("a".into()), "x");
        let names: Vec<_> = touched
            .take()
            .into_iter()
            .map(|t| (t.namespace, t.name))
            .collect();
        assert_eq!(
            names,
            [
                ("a".into(), Some("x".into())),
                ("b".into(), Some("y".into())),
                ("c.d".into(), None)
            ]
        );
    }
}
