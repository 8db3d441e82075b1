//! Authentication files for `floe serve --auth FILE` (clients and static tokens with
//! their grants, the secrets hashed as the server wants them), and requests that carry a
//! bearer token.

use std::path::Path;

use floe_rest_catalog::hash_secret;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

/// One `[[clients]]` (its id and secret) or `[[tokens]]` (its name and token) entry, with
/// its grants as a TOML array, e.g. `[{ namespace = "", access = "read" }]`.
pub struct Principal<'a> {
    /// The client id or the token's name.
    pub name: &'a str,
    /// The client secret or the token itself (only its SHA-256 goes into the file).
    pub secret: &'a str,
    /// The grants, TOML.
    pub grants: &'a str,
}

impl<'a> Principal<'a> {
    /// `name` with `secret` and `grants`.
    pub fn new(name: &'a str, secret: &'a str, grants: &'a str) -> Self {
        Principal {
            name,
            secret,
            grants,
        }
    }
}

/// Writes an authentication file at `path` with `signing_key`, tokens that last
/// `ttl_secs`, and `clients` and `tokens`.
pub fn write_auth_file(
    path: &Path,
    signing_key: &str,
    ttl_secs: u64,
    clients: &[Principal],
    tokens: &[Principal],
) {
    let mut text = format!("signing-key = \"{signing_key}\"\ntoken-ttl-secs = {ttl_secs}\n");
    let entries = (clients
        .iter()
        .map(|c| ("clients", "id", "secret-sha256", c)))
    .chain(tokens.iter().map(|t| ("tokens", "name", "token-sha256", t)));
    for (table, name_key, hash_key, p) in entries {
        text.push_str(&format!(
            "\n[[{table}]]\n{name_key} = \"{}\"\n{hash_key} = \"{}\"\ngrants = {}\n",
            p.name,
            hash_secret(p.secret),
            p.grants
        ));
    }
    std::fs::write(path, text).expect("writing the authentication file");
}

/// `method url`, with `token` as its bearer token and `body` as its JSON body when given.
pub fn request(
    http: &Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> RequestBuilder {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request
}
