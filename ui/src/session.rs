//! Who is looking, with `floe serve --auth`: the login form, which trades client
//! credentials for a token issued by the catalog's `Authenticator` and keeps it in an
//! `HttpOnly; SameSite=Strict; Path=/ui` cookie for the token's lifetime; the logout,
//! which clears it; and [`Viewer`], the extractor that reads the cookie on every page
//! (a page without a valid one redirects to the form) and says which namespaces the
//! viewer's grants let it read. Without authentication everyone reads everything.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use iceberg::NamespaceIdent;
use serde::Deserialize;

use crate::app::{Ui, LOGIN, TABLES};
use crate::pages::{html, Nav};

/// The cookie that holds the viewer's token.
pub(crate) const COOKIE: &str = "floe_ui_token";

/// Whether the viewer's grants let it read a namespace (its levels).
type Reads = Arc<dyn Fn(&[String]) -> bool + Send + Sync>;

/// Who is looking at a page: everyone (authentication off), or a principal of the
/// catalog's `[auth]` configuration, with its grants.
#[derive(Clone)]
pub(crate) struct Viewer {
    /// The client id or token name; `None` with authentication off.
    pub name: Option<String>,
    reads: Option<Reads>,
}

impl Viewer {
    /// Anyone, with authentication off: every namespace is readable.
    pub(crate) fn everyone() -> Viewer {
        Viewer {
            name: None,
            reads: None,
        }
    }

    /// Whether the viewer may read `ns` (a read grant on a prefix that covers it).
    pub(crate) fn may_read(&self, ns: &NamespaceIdent) -> bool {
        self.reads.as_ref().is_none_or(|reads| reads(ns.as_ref()))
    }

    /// The page header's view of the viewer.
    pub(crate) fn nav(&self) -> Nav {
        Nav {
            user: self.name.clone(),
        }
    }

    /// What the viewer is called in a refusal.
    pub(crate) fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| "anyone".into())
    }
}

/// The value of cookie `name` in `headers`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A page needs a viewer: with authentication on, the holder of a valid token cookie;
/// without one the answer is a redirect to the login form.
impl FromRequestParts<Ui> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Self, Response> {
        let Some(auth) = ui.auth() else {
            return Ok(Viewer::everyone());
        };
        let token = cookie(&parts.headers, COOKIE);
        match token.and_then(|t| auth.authenticate(t, now_secs()).ok()) {
            Some(principal) => Ok(Viewer {
                name: Some(principal.name.clone()),
                reads: Some(Arc::new(move |ns: &[String]| {
                    principal.access_to(ns).is_some()
                })),
            }),
            None => Err(Redirect::to(LOGIN).into_response()),
        }
    }
}

/// The login form.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    client_id: String,
    message: Option<&'static str>,
}

fn login_page(status: StatusCode, client_id: String, message: Option<&'static str>) -> Response {
    let page = LoginPage {
        nav: Nav::default(),
        client_id,
        message,
    };
    match html(&page) {
        Ok(body) => (status, body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /ui/login`: the form.
pub(crate) async fn form() -> Response {
    login_page(StatusCode::OK, String::new(), None)
}

/// What the form posts.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    client_id: String,
    client_secret: String,
}

/// A `Set-Cookie` header value for the token cookie: `token` for `max_age` seconds.
fn token_cookie(token: &str, max_age: u64) -> HeaderValue {
    let value =
        format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path={TABLES}; Max-Age={max_age}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// `POST /ui/login`: a token for right credentials, kept in the cookie, and on to the
/// tables; the form again with 401 for wrong ones.
pub(crate) async fn login(State(ui): State<Ui>, Form(form): Form<Credentials>) -> Response {
    let Some(auth) = ui.auth() else {
        return Redirect::to(TABLES).into_response();
    };
    match auth.issue(&form.client_id, &form.client_secret, now_secs()) {
        Ok(issued) => {
            tracing::info!(client = %form.client_id, "ui login");
            let cookie = token_cookie(&issued.access_token, issued.expires_in);
            let mut response = Redirect::to(TABLES).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(_) => {
            tracing::info!(client = %form.client_id, "ui login refused: invalid client credentials");
            let message = Some("Wrong client id or secret.");
            login_page(StatusCode::UNAUTHORIZED, form.client_id, message)
        }
    }
}

/// `POST /ui/logout`: clears the cookie, back to the form.
pub(crate) async fn logout() -> Response {
    let mut response = Redirect::to(LOGIN).into_response();
    (response.headers_mut()).insert(header::SET_COOKIE, token_cookie("", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_among_the_cookies() {
        let cases: [(&[&str], Option<&str>); 5] = [
            (&[], None),
            (&["floe_ui_token=abc"], Some("abc")),
            (&["a=1; floe_ui_token=x.y.z; b=2"], Some("x.y.z")),
            (&["a=1", "floe_ui_token=t"], Some("t")),
            (&["xfloe_ui_token=no; floe_ui_token_2=no"], None),
        ];
        for (values, want) in cases {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::COOKIE, HeaderValue::from_str(v).expect("ascii"));
            }
            assert_eq!(cookie(&headers, COOKIE), want, "{values:?}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped_to_the_pages() {
        let value = token_cookie("tok", 3600);
        assert_eq!(
            value.to_str().expect("ascii"),
            "floe_ui_token=tok; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=3600"
        );
        let cleared = token_cookie("", 0);
        assert!(cleared.to_str().expect("ascii").ends_with("Max-Age=0"));
    }
}
