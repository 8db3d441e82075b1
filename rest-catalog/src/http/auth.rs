//! The HTTP side of authentication (`crate::auth` has the rules): `POST /v1/oauth/tokens`,
//! the OAuth2 client-credentials grant (credentials in the form or in HTTP Basic), and the
//! middleware that asks every other route for a bearer token (401, without saying what
//! was wrong) and checks the principal's access to what the request touches (403).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Query, RawPathParams, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::Engine;
use serde_json::json;

use super::error::error_response;
use super::MAX_BODY_BYTES;
use crate::auth::{
    needs, reads_body, Access, AuthError, Authenticator, Need, Principal, Scope, OPEN_ROUTES,
};
use crate::names::parse_namespace;

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
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e.to_string())
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

/// Middleware on every route: 401 without a valid token, 403 when the principal may not
/// do what the request does.
pub(super) async fn authorize(
    Extension(auth): Extension<Arc<Authenticator>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if OPEN_ROUTES.contains(&route.as_str()) {
        return next.run(request).await;
    }
    let now = chrono::Utc::now().timestamp();
    let Some(principal) = bearer(request.headers()).and_then(|b| auth.authenticate(b, now).ok())
    else {
        return unauthorized();
    };
    let (request, denied) = match check(&principal, &route, request).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    if let Some(why) = denied {
        return error_response(StatusCode::FORBIDDEN, "ForbiddenException", why);
    }
    next.run(request).await
}

/// Whether `principal` may make `request`; the request is handed back (its body read
/// and put back when the rules needed it).
async fn check(
    principal: &Principal,
    route: &str,
    request: Request,
) -> Result<(Request, Option<String>), Response> {
    let bad =
        |message: String| error_response(StatusCode::BAD_REQUEST, "BadRequestException", message);
    let (mut parts, body) = request.into_parts();
    // A route with a `{namespace}` whose value cannot be read is refused, never checked
    // as if it named none.
    let namespace = if route.contains("{namespace}") {
        let params = RawPathParams::from_request_parts(&mut parts, &())
            .await
            .map_err(|e| bad(format!("path: {e}")))?;
        let raw = params
            .iter()
            .find(|(k, _)| *k == "namespace")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| bad("the path names no namespace".into()))?;
        Some(levels(&raw).map_err(bad)?)
    } else {
        None
    };
    // An empty `parent` is the top level, as the handler reads it.
    let parent = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|q| q.0.get("parent").cloned())
        .filter(|p| !p.is_empty())
        .map(|p| levels(&p))
        .transpose()
        .map_err(bad)?;
    // The body is read (and put back) only where the rules look into it.
    let (body, bytes) = if reads_body(route, parts.method.as_str()) {
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BadRequestException",
                    format!("request body: {e}"),
                )
            })?;
        (Body::from(bytes.clone()), bytes)
    } else {
        (body, Bytes::new())
    };
    let needed = needs(route, parts.method.as_str(), namespace, parent, &bytes).map_err(bad)?;
    Ok((
        Request::from_parts(parts, body),
        refusal(principal, &needed),
    ))
}

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

/// The levels of a (decoded) namespace path parameter or `parent` value.
fn levels(decoded: &str) -> Result<Vec<String>, String> {
    parse_namespace(decoded)
        .map(|ns| ns.inner())
        .map_err(|e| e.to_string())
}
