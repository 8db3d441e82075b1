//! The HTTP side of authentication (`crate::auth` has the rules): `POST /v1/oauth/tokens`,
//! the OAuth2 client-credentials grant (credentials in the form or in HTTP Basic), and the
//! middleware that asks every route but the open ones for a bearer token (401, without
//! saying what was wrong) and checks the principal's access to what the request touches
//! (403), as the route's `Needs` say: before the handler, or, for the routes whose body
//! names the namespaces, in the handler once the body parsed (`Caller`). The answers it
//! lets through or refuses name their principal (`PrincipalName`), for the idempotency keys
//! and the audit trail.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Extension, Form, Json};
use base64::Engine;
use serde_json::json;

use super::error::error_response;
use crate::auth::Needs;
use crate::auth::{Access, AuthError, Authenticator, Need, Principal, Scope};
use crate::catalog::Catalog;
use crate::error::{CatalogError, Failure, Result};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

/// `(client_id, client_secret)` from an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `POST /v1/oauth/tokens`.
pub(super) async fn tokens(
    Extension(auth): Extension<Arc<Authenticator>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        );
    }
    let credentials = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        _ => basic_credentials(&headers),
    };
    let Some((id, secret)) = credentials else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    let now = chrono::Utc::now().timestamp();
    match auth.issue(&id, &secret, now) {
        Ok(issued) => Json(json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        }))
        .into_response(),
        Err(e) => {
            tracing::info!(client = %id, "token refused: invalid client credentials");
            let mut response =
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e.to_string());
            response
                .extensions_mut()
                .insert(PrincipalName::claimed(&id));
            response
        }
    }
}

fn unauthorized() -> Response {
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        "NotAuthorizedException",
        AuthError::Unauthorized.to_string(),
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid"));
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// What the middleware of one route knows: who checks tokens, and what the route needs.
#[derive(Clone)]
struct Guard {
    auth: Arc<Authenticator>,
    needs: Needs,
}

/// `handler` behind the middleware that checks a bearer token and `needs` (nothing at
/// all for an open route). Only the methods `handler` serves are guarded: a method the
/// route does not serve is answered 405 without a token, as any unknown path is 404.
pub(super) fn guard(
    handler: MethodRouter<Catalog>,
    auth: &Arc<Authenticator>,
    needs: Needs,
) -> MethodRouter<Catalog> {
    if needs == Needs::Open {
        return handler;
    }
    let guard = Guard {
        auth: Arc::clone(auth),
        needs,
    };
    handler.route_layer(axum::middleware::from_fn_with_state(guard, authorize))
}

/// The middleware: 401 without a valid token; then the answer of `authorized`, which
/// names its principal for the audit trail.
async fn authorize(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let now = chrono::Utc::now().timestamp();
    let Some(principal) =
        bearer(request.headers()).and_then(|b| guard.auth.authenticate(b, now).ok())
    else {
        return unauthorized();
    };
    let name = PrincipalName(principal.name.clone());
    let mut request = request;
    request.extensions_mut().insert(name.clone());
    let mut response = authorized(guard.needs, principal, request, next).await;
    response.extensions_mut().insert(name);
    response
}

/// 400 when the namespace the route needs cannot be read, 403 when the principal may not
/// do what the request does, or, on the routes whose body names the namespaces, the
/// principal handed to the handler (as to a namespace listing on the way to the
/// principal's grants, which it filters).
async fn authorized(needs: Needs, principal: Principal, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let need = match need_now(needs, &mut parts).await {
        Ok(need) => need,
        Err(e) => return e.into_response(),
    };
    match (need, needs) {
        (Some(need), needs) => {
            if let Some(why) = refusal(&principal, std::slice::from_ref(&need)) {
                match (needs, &need.scope) {
                    // A listing of a namespace the principal cannot read, on the way to
                    // one it can: answered with only what it may see.
                    (Needs::ParentNamespace(_), Scope::Namespace(parent))
                        if principal.sees(parent) =>
                    {
                        parts.extensions.insert(ListedFor(principal));
                    }
                    _ => return CatalogError::Forbidden(why).into_response(),
                }
            }
        }
        (None, Needs::BodyNamespaces(access)) => {
            parts.extensions.insert(BodyCheck { principal, access });
        }
        (None, _) => {}
    }
    next.run(Request::from_parts(parts, body)).await
}

/// What the request needs before its handler runs, reading the `{namespace}` path
/// parameter or the `parent` query parameter where `needs` looks at them.
async fn need_now(needs: Needs, parts: &mut Parts) -> Result<Option<Need>> {
    let path_namespace = match needs {
        Needs::PathNamespace(_) => namespace_param(parts).await?,
        _ => None,
    };
    let parent = match needs {
        Needs::ParentNamespace(_) => Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.get("parent").cloned()),
        _ => None,
    };
    needs.before_handler(path_namespace.as_deref(), parent.as_deref())
}

/// The decoded `{namespace}` path parameter, if the path has one; an error when the
/// path parameters cannot be decoded.
async fn namespace_param(parts: &mut Parts) -> Result<Option<String>> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| CatalogError::BadRequest(Failure::because("path", e)))?;
    Ok(params
        .iter()
        .find(|(k, _)| *k == "namespace")
        .map(|(_, v)| v.to_string()))
}

/// A namespace listing answered to a principal that may not read the parent namespace
/// but holds grants below it: only the namespaces it sees are listed.
#[derive(Clone)]
pub(super) struct ListedFor(pub Principal);

/// Who made a request: the authenticated client id or static token's name (at the token
/// endpoint, the client id a failed login gave). A request extension for what runs after
/// authentication (idempotency keys are kept per caller), and a response extension for
/// the audit trail.
#[derive(Clone, Debug)]
pub(crate) struct PrincipalName(pub String);

impl PrincipalName {
    /// The longest client id of a failed login kept in its line.
    const CLAIMED_CHARS: usize = 128;

    /// The client id a failed login gave, as anyone may type it: at most
    /// [`Self::CLAIMED_CHARS`] characters of it.
    pub(crate) fn claimed(client_id: &str) -> Self {
        PrincipalName(client_id.chars().take(Self::CLAIMED_CHARS).collect())
    }
}

/// Who makes a request whose body names the namespaces it acts in, and the access the
/// route needs on each.
#[derive(Clone)]
struct BodyCheck {
    principal: Principal,
    access: Access,
}

/// Extractor for the handlers whose request body names the namespaces they act in: who
/// calls (`None` with authentication off). Once the body parsed, `Caller::may` checks
/// that the caller may act in them.
pub(super) struct Caller(Option<BodyCheck>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = CatalogError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        match parts.extensions.remove::<BodyCheck>() {
            Some(check) => Ok(Caller(Some(check))),
            None if parts.extensions.get::<Arc<Authenticator>>().is_none() => Ok(Caller(None)),
            // Authentication is on but the route's middleware checked nothing for the
            // handler: its declaration is not `Needs::BodyNamespaces`. Refused, never
            // let through.
            None => Err(CatalogError::Forbidden(
                "this route does not say who may call it".into(),
            )),
        }
    }
}

impl Caller {
    /// `Ok` when the caller may act in every namespace `body` names (always, with
    /// authentication off); `CatalogError::Forbidden` saying what it may not do otherwise.
    pub(super) fn may<T: NamesNamespaces>(&self, body: &T) -> Result<()> {
        let Some(check) = &self.0 else {
            return Ok(());
        };
        match refusal(&check.principal, &body_needs(check.access, body)?) {
            Some(why) => Err(CatalogError::Forbidden(why)),
            None => Ok(()),
        }
    }
}

/// A typed request body that names the namespaces it acts in.
pub(super) trait NamesNamespaces {
    /// The levels of each namespace it names, in its order (the empty one is the whole
    /// catalog); an error (a 400) when it does not say.
    fn namespaces(&self) -> Result<Vec<Vec<String>>>;
}

/// What a request with `body` needs: `access` on each namespace it names.
pub(super) fn body_needs<T: NamesNamespaces>(access: Access, body: &T) -> Result<Vec<Need>> {
    Ok(body
        .namespaces()?
        .into_iter()
        .map(|ns| Need {
            scope: Scope::Namespace(ns),
            access,
        })
        .collect())
}

/// Why `principal` may not make a request that needs `needed`; `None` when it may.
fn refusal(principal: &Principal, needed: &[Need]) -> Option<String> {
    needed.iter().find(|n| !principal.allows(n)).map(|n| {
        let what = match n.access {
            Access::Read => "read",
            Access::ReadWrite => "change",
        };
        let target = match &n.scope {
            Scope::Anywhere => "this".to_string(),
            Scope::Namespace(ns) if ns.is_empty() => "the whole catalog".to_string(),
            Scope::Namespace(ns) => format!("namespace {}", ns.join(".")),
        };
        format!("{} may not {what} {target}", principal.name)
    })
}
