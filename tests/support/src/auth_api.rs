//! A caller of a `floe serve --auth FILE`: requests with or without a bearer token,
//! answered as (status, JSON body, text), and the OAuth2 client-credentials flow at the
//! token endpoint.

use reqwest::{Method, StatusCode};
use serde_json::Value;

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
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
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
