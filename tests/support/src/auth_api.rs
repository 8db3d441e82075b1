//! A caller of a `floe serve --auth FILE`: requests with or without a bearer token,
//! answered as (status, JSON body, text), and the OAuth2 client-credentials flow at the
//! token endpoint; and the auth files such a server reads ([`write_auth_file`]).

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// `method url`, with `token` as its bearer token and `body` as its JSON body when given.
pub fn request(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::RequestBuilder {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request
}

/// The catalog at `base`, called over HTTP.
pub struct AuthApi {
    pub base: String,
    pub http: reqwest::Client,
}

impl AuthApi {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// `method path` with `token` as bearer and `body` as JSON: the status, the body as
    /// JSON (`Null` when it is not) and as text.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let url = format!("{}{path}", self.base);
        let response = request(&self.http, method, &url, token, body.as_ref())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    /// The token endpoint's answer to `form`.
    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/v1/oauth/tokens", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// A token for the client `id` with `secret`, and the token endpoint's answer.
    pub async fn login(&self, id: &str, secret: &str) -> (String, Value) {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "catalog"),
        ];
        let (status, body) = self.token(&form).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "bearer");
        let token = body["access_token"].as_str().unwrap().to_string();
        (token, body)
    }
}

/// The signing key of the test servers' auth files.
pub const SIGNING_KEY: &str = "0123456789abcdef0123456789abcdef-signing";

/// Who an auth file lets in, with the grants as TOML
/// (`[{ namespace = "sales", access = "read-write" }]`).
pub enum Principal<'a> {
    /// An OAuth2 client: id, secret, grants.
    Client(&'a str, &'a str, &'a str),
    /// A static token: name, token, grants.
    Token(&'a str, &'a str, &'a str),
}

/// Writes an auth file (`floe serve --auth`) at `path` signing tokens with `signing_key`
/// and letting `principals` in, with issued tokens lasting `ttl_secs` (the default
/// without it).
pub fn write_auth_file(
    path: &std::path::Path,
    signing_key: &str,
    ttl_secs: Option<u64>,
    principals: &[Principal],
) {
    let mut text = format!("signing-key = \"{signing_key}\"\n");
    if let Some(ttl) = ttl_secs {
        text.push_str(&format!("token-ttl-secs = {ttl}\n"));
    }
    for principal in principals {
        let (table, name_key, name, hash_key, secret, grants) = match principal {
            Principal::Client(id, secret, grants) => {
                ("clients", "id", id, "secret-sha256", secret, grants)
            }
            Principal::Token(name, token, grants) => {
                ("tokens", "name", name, "token-sha256", token, grants)
            }
        };
        text.push_str(&format!(
            "\n[[{table}]]\n{name_key} = \"{name}\"\n{hash_key} = \"{}\"\ngrants = {grants}\n",
            floe_rest_catalog::hash_secret(secret)
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// A `floe serve --auth FILE` whose warehouse, data and auth file are under `dirs`, the
/// auth file written by `write_file`.
pub fn serve_with_auth(
    dirs: &std::path::Path,
    write_file: impl FnOnce(&std::path::Path),
) -> crate::FloeServer {
    let auth_file = dirs.join("auth.toml");
    write_file(&auth_file);
    let extra = ["--auth".to_string(), auth_file.display().to_string()];
    crate::FloeServer::start_with_args(&dirs.join("warehouse"), &dirs.join("data"), &extra)
}
