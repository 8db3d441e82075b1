//! How the REST client authenticates its requests: anonymously, with a static bearer
//! token, or with OAuth2 client credentials whose token it fetches at the catalog's token
//! endpoint and refreshes, both before it expires and when the catalog refuses it, so a
//! job longer than a token's lifetime keeps working.
//!
//! The refresh rule ([`refresh_due`]): a token is refreshed once less than a fifth of its
//! lifetime, or 30 s, whichever is smaller, remains (a one-hour token at 59m30s, a
//! 2-second one at 1.6 s), counting from when its request was sent. A token answer
//! without `expires_in` is used until the catalog refuses it. The catalog may expire a
//! token a little earlier than the client reckons (it counts whole seconds, clocks
//! differ): a 401 answer then fetches a new token and sends the request once more.
//! Refreshes happen one at a time behind a lock: concurrent requests wait for the one
//! refresh under way instead of each asking the token endpoint.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::rest::RestError;

/// The longest time before its expiry that a token is refreshed.
pub(crate) const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// How long before its expiry a token of `lifetime` is refreshed: a fifth of the
/// lifetime, at most [`MAX_REFRESH_MARGIN`].
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(MAX_REFRESH_MARGIN)
}

/// Whether a token asked for at `issued`, valid for `expires_in` (`None`: not said), is
/// due for a refresh at `now`.
pub(crate) fn refresh_due(issued: Instant, expires_in: Option<Duration>, now: Instant) -> bool {
    let Some(lifetime) = expires_in else {
        return false;
    };
    now.saturating_duration_since(issued) + refresh_margin(lifetime) >= lifetime
}

/// Whether a token asked for at `issued`, valid for `expires_in`, has expired at `now`.
fn expired(issued: Instant, expires_in: Option<Duration>, now: Instant) -> bool {
    expires_in.is_some_and(|lifetime| now.saturating_duration_since(issued) >= lifetime)
}

/// A token from the token endpoint and when it was asked for.
#[derive(Clone)]
struct Lease {
    token: String,
    /// When the request for it was sent (so its expiry is reckoned early, never late).
    issued: Instant,
    /// Its `expires_in`.
    lifetime: Option<Duration>,
}

/// OAuth2 client credentials and the token they last got.
pub(crate) struct Refresher {
    http: reqwest::Client,
    /// `<uri>/v1/oauth/tokens`.
    url: String,
    client_id: String,
    secret: String,
    lease: Mutex<Lease>,
}

/// How a client authenticates. Never prints a secret or a token.
pub(crate) enum Auth {
    /// No token.
    Anonymous,
    /// A bearer token given by the caller, which the client cannot renew.
    Static(String),
    /// Client credentials, exchanged for tokens as needed.
    Credential(Refresher),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Static(_) => f.write_str("Static(<redacted>)"),
            Auth::Credential(r) => write!(f, "Credential({}:<redacted>)", r.client_id),
        }
    }
}

impl Auth {
    /// Client credentials for the catalog at `uri`, with a first token fetched now.
    pub(crate) async fn credential(
        http: reqwest::Client,
        uri: &str,
        client_id: &str,
        secret: &str,
    ) -> Result<Self, RestError> {
        let url = token_url(uri);
        let lease = fetch(&http, &url, client_id, secret).await?;
        Ok(Auth::Credential(Refresher {
            http,
            url,
            client_id: client_id.to_string(),
            secret: secret.to_string(),
            lease: Mutex::new(lease),
        }))
    }

    /// The token to send now, refreshed first when it is due.
    pub(crate) async fn token(&self) -> Result<Option<String>, RestError> {
        match self {
            Auth::Anonymous => Ok(None),
            Auth::Static(token) => Ok(Some(token.clone())),
            Auth::Credential(r) => r.current().await.map(Some),
        }
    }

    /// After the catalog answered 401 to `refused`: the token to send the request again
    /// with, when the client can get a new one (only with client credentials).
    pub(crate) async fn after_refusal(
        &self,
        refused: Option<&str>,
    ) -> Result<Option<String>, RestError> {
        match (self, refused) {
            (Auth::Credential(r), Some(refused)) => r.replace(refused).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Whether the caller gave a token the client cannot renew.
    pub(crate) fn is_static(&self) -> bool {
        matches!(self, Auth::Static(_))
    }
}

impl Refresher {
    /// The current token, after a refresh when one is due. A failed refresh keeps a
    /// token that has not expired yet (a 401 tries again).
    async fn current(&self) -> Result<String, RestError> {
        let mut lease = self.lease.lock().await;
        let now = Instant::now();
        if refresh_due(lease.issued, lease.lifetime, now) {
            match fetch(&self.http, &self.url, &self.client_id, &self.secret).await {
                Ok(fresh) => *lease = fresh,
                Err(_) if !expired(lease.issued, lease.lifetime, now) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(lease.token.clone())
    }

    /// A new token in place of `refused`, unless another request already replaced it.
    async fn replace(&self, refused: &str) -> Result<String, RestError> {
        let mut lease = self.lease.lock().await;
        if lease.token == refused {
            *lease = fetch(&self.http, &self.url, &self.client_id, &self.secret).await?;
        }
        Ok(lease.token.clone())
    }
}

/// The token endpoint of the catalog at `uri`.
fn token_url(uri: &str) -> String {
    format!("{}/v1/oauth/tokens", uri.trim_end_matches('/'))
}

/// A token for the client credentials `client_id` / `secret` from the token endpoint at
/// `url`, with its lifetime.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    secret: &str,
) -> Result<Lease, RestError> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", "catalog"),
    ];
    let issued = Instant::now();
    let response = http
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| RestError::unreachable(url, e))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| RestError::bad_response("token endpoint", e))?;
    match body.get("access_token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok(Lease {
            token: token.to_string(),
            issued,
            lifetime: body
                .get("expires_in")
                .and_then(Value::as_u64)
                .map(Duration::from_secs),
        }),
        _ => Err(RestError::Rejected {
            status: status.as_u16(),
            message: format!(
                "token endpoint: {}",
                body.get("error_description")
                    .or(body.get("error"))
                    .unwrap_or(&body)
            ),
        }),
    }
}

/// A token for the client credentials from the catalog at `uri`, without refreshing.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    uri: &str,
    client_id: &str,
    secret: &str,
) -> Result<String, RestError> {
    Ok(fetch(http, &token_url(uri), client_id, secret).await?.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn margins() {
        for (lifetime, margin) in [
            (S(2), MS(400)),
            (S(10), S(2)),
            (S(150), S(30)),
            (S(3600), S(30)),
            (S(0), S(0)),
        ] {
            assert_eq!(refresh_margin(lifetime), margin, "{lifetime:?}");
        }
    }

    #[test]
    fn when_a_token_is_due() {
        let issued = Instant::now();
        // (expires_in, time since it was asked for, due, expired)
        let cases = [
            (Some(S(2)), MS(0), false, false),
            (Some(S(2)), MS(1599), false, false),
            (Some(S(2)), MS(1600), true, false),
            (Some(S(2)), MS(2000), true, true),
            (Some(S(3600)), S(3569), false, false),
            (Some(S(3600)), S(3570), true, false),
            (Some(S(3600)), S(7200), true, true),
            (Some(S(100)), S(79), false, false),
            (Some(S(100)), S(80), true, false),
            (Some(S(0)), S(0), true, true),
            (None, S(1_000_000), false, false),
        ];
        for (expires_in, age, due, gone) in cases {
            let now = issued + age;
            assert_eq!(
                refresh_due(issued, expires_in, now),
                due,
                "{expires_in:?} after {age:?}"
            );
            assert_eq!(expired(issued, expires_in, now), gone, "{expires_in:?}");
        }
        // A clock read before the token was asked for (never, but harmless).
        assert!(!refresh_due(issued + S(10), Some(S(60)), issued));
    }
}
