//! Authentication and authorization rules, apart from HTTP: who a bearer token is (OAuth2
//! clients and static service tokens from the configuration, whose secrets are kept only
//! as SHA-256 hashes), the signed, expiring tokens the token endpoint issues (HS256 JWTs),
//! and what a principal may do: read, or read and write, per namespace prefix.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;

/// What a grant allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Load and list.
    Read,
    /// Load, list and change.
    ReadWrite,
}

/// Access to the namespaces under a prefix: `""` is every namespace, `"sales"` is `sales`
/// and every namespace below it (`sales.eu`), never `salesforce`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Grant {
    /// The namespace prefix, dot-separated levels; `""` is every namespace.
    pub namespace: String,
    /// What the grant allows there.
    pub access: Access,
}

/// An OAuth2 client (client-credentials flow).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientConfig {
    /// The client id, unique among the clients.
    pub id: String,
    /// Hex SHA-256 of the secret (`printf %s "$SECRET" | sha256sum`).
    pub secret_sha256: String,
    /// What the client may do.
    pub grants: Vec<Grant>,
}

/// A static bearer token for a service.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StaticTokenConfig {
    /// The service's name, the principal's name in logs and refusals.
    pub name: String,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    /// What the service may do.
    pub grants: Vec<Grant>,
}

/// The `[auth]` configuration. With it, every endpoint but `/v1/config`, the token
/// endpoint, `/health` and `/ready` needs a bearer token.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthConfig {
    /// The key that signs issued tokens (at least 32 bytes); every node of one catalog
    /// needs the same one.
    pub signing_key: String,
    /// How long an issued token is valid.
    #[serde(default = "default_ttl")]
    pub token_ttl_secs: u64,
    /// The OAuth2 clients.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// The static service tokens.
    #[serde(default)]
    pub tokens: Vec<StaticTokenConfig>,
}

fn default_ttl() -> u64 {
    3600
}

/// Never prints a secret or a hash.
impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("signing_key", &"<redacted>")
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field(
                "clients",
                &self.clients.iter().map(|c| &c.id).collect::<Vec<_>>(),
            )
            .field(
                "tokens",
                &self.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Grant prefixes are dot-separated levels, none empty or padded, each prefix once.
fn check_grants(who: &str, grants: &[Grant]) -> Result<(), AuthError> {
    let mut seen = std::collections::HashSet::new();
    for g in grants {
        let bad_level = |l: &str| l.is_empty() || l.trim() != l;
        if !g.namespace.is_empty() && g.namespace.split('.').any(bad_level) {
            return Err(AuthError::Config(format!(
                "{who}: grant namespace {:?} is not dot-separated levels",
                g.namespace
            )));
        }
        if !seen.insert(&g.namespace) {
            return Err(AuthError::Config(format!(
                "{who}: namespace {:?} is granted twice",
                g.namespace
            )));
        }
    }
    Ok(())
}

/// Hex SHA-256 of a secret, as the configuration stores it.
pub fn hash_secret(secret: &str) -> String {
    sha256_hex(&[secret.as_bytes()])
}

/// Who a request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The client id or the static token's name.
    pub name: String,
    /// What it may do.
    pub grants: Vec<Grant>,
}

impl Principal {
    /// The access of the longest grant prefix that covers `namespace` (its levels).
    pub fn access_to(&self, namespace: &[String]) -> Option<Access> {
        self.grants
            .iter()
            .filter(|g| covers(&g.namespace, namespace))
            .max_by_key(|g| g.namespace.len())
            .map(|g| g.access)
    }

    /// Whether any grant gives at least `access` somewhere (for requests that name no
    /// namespace: listing the top level, `/metrics`, the OpenAPI document).
    pub fn has_any(&self, access: Access) -> bool {
        self.grants.iter().any(|g| g.access >= access)
    }

    /// Whether a listing may show `namespace` (its levels) to the principal: it may read
    /// it, or a grant of its lies below it (on the way to a namespace it may read).
    pub fn sees(&self, namespace: &[String]) -> bool {
        self.access_to(namespace).is_some()
            || self.grants.iter().any(|g| {
                let levels: Vec<&str> = g.namespace.split('.').collect();
                !g.namespace.is_empty()
                    && levels.len() > namespace.len()
                    && levels.iter().zip(namespace).all(|(p, n)| *p == n)
            })
    }
}

fn covers(prefix: &str, namespace: &[String]) -> bool {
    if prefix.is_empty() {
        return true;
    }
    let levels: Vec<&str> = prefix.split('.').collect();
    levels.len() <= namespace.len() && levels.iter().zip(namespace).all(|(p, n)| *p == n)
}

/// Why a token or a credential was refused. The messages say nothing about which part
/// was wrong.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint's client id or secret is wrong.
    #[error("invalid client credentials")]
    InvalidClient,
    /// A bearer token is missing, malformed, forged or expired.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The `[auth]` configuration is not acceptable.
    #[error("auth configuration: {0}")]
    Config(String),
    /// The signing key cannot sign or check tokens.
    #[error("auth configuration: {what}: {source}")]
    Signing {
        /// What was being done.
        what: &'static str,
        /// The signing library's error.
        source: jsonwebtoken::errors::Error,
    },
}

/// Errors compare by what they say (the signing library's errors are not comparable).
impl PartialEq for AuthError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    iss: String,
}

const ISSUER: &str = "floe";

/// A token the token endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The signed token.
    pub access_token: String,
    /// How long it is valid, in seconds.
    pub expires_in: u64,
}

/// Checks credentials and tokens against an `AuthConfig`.
pub struct Authenticator {
    ttl_secs: u64,
    encoding: EncodingKey,
    decoding: DecodingKey,
    clients: HashMap<String, ClientConfig>,
    tokens: HashMap<String, StaticTokenConfig>,
}

impl Authenticator {
    /// Checks `config` (key length, hashes, grant prefixes, unique clients) and keeps it.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        if config.signing_key.len() < 32 {
            return Err(AuthError::Config(
                "signing-key must be at least 32 bytes".into(),
            ));
        }
        if config.token_ttl_secs == 0 {
            return Err(AuthError::Config("token-ttl-secs must be positive".into()));
        }
        let is_hash = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
        for (who, grants) in config
            .clients
            .iter()
            .map(|c| (&c.id, &c.grants))
            .chain(config.tokens.iter().map(|t| (&t.name, &t.grants)))
        {
            check_grants(who, grants)?;
        }
        let mut clients = HashMap::new();
        for c in &config.clients {
            if !is_hash(&c.secret_sha256) {
                return Err(AuthError::Config(format!(
                    "client {}: secret-sha256 must be 64 hex digits",
                    c.id
                )));
            }
            if clients.insert(c.id.clone(), c.clone()).is_some() {
                return Err(AuthError::Config(format!("client {} appears twice", c.id)));
            }
        }
        let mut tokens = HashMap::new();
        for t in &config.tokens {
            if !is_hash(&t.token_sha256) {
                return Err(AuthError::Config(format!(
                    "token {}: token-sha256 must be 64 hex digits",
                    t.name
                )));
            }
            tokens.insert(t.token_sha256.to_ascii_lowercase(), t.clone());
        }
        let key = config.signing_key.as_bytes();
        let bad_key = |source| AuthError::Signing {
            what: "signing-key",
            source,
        };
        Ok(Self {
            ttl_secs: config.token_ttl_secs,
            encoding: EncodingKey::from_secret(key).map_err(bad_key)?,
            decoding: DecodingKey::from_secret(key).map_err(bad_key)?,
            clients,
            tokens,
        })
    }

    /// The client-credentials grant: a signed token for `client_id` if `secret` is its.
    pub fn issue(&self, client_id: &str, secret: &str, now: i64) -> Result<IssuedToken, AuthError> {
        let client = self
            .clients
            .get(client_id)
            .ok_or(AuthError::InvalidClient)?;
        if !client
            .secret_sha256
            .eq_ignore_ascii_case(&hash_secret(secret))
        {
            return Err(AuthError::InvalidClient);
        }
        self.sign(&client.id, now)
    }

    /// A signed token for `subject` (a client id), valid for the configured time.
    fn sign(&self, subject: &str, now: i64) -> Result<IssuedToken, AuthError> {
        let claims = Claims {
            sub: subject.to_string(),
            iat: now,
            exp: now + self.ttl_secs as i64,
            iss: ISSUER.to_string(),
        };
        let access_token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(
                |source| AuthError::Signing {
                    what: "signing a token",
                    source,
                },
            )?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl_secs,
        })
    }

    /// The principal behind a bearer token at time `now`: a static token, or a signed,
    /// unexpired token of a configured client (its grants as configured now).
    pub fn authenticate(&self, bearer: &str, now: i64) -> Result<Principal, AuthError> {
        if let Some(t) = self.tokens.get(&hash_secret(bearer)) {
            return Ok(Principal {
                name: t.name.clone(),
                grants: t.grants.clone(),
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.validate_exp = false; // checked below against `now`, without leeway
        let data = jsonwebtoken::decode::<Claims>(bearer, &self.decoding, &validation)
            .map_err(|_| AuthError::Unauthorized)?;
        if data.claims.exp <= now {
            return Err(AuthError::Unauthorized);
        }
        let client = self
            .clients
            .get(&data.claims.sub)
            .ok_or(AuthError::Unauthorized)?;
        Ok(Principal {
            name: client.id.clone(),
            grants: client.grants.clone(),
        })
    }
}

/// Where a request acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Reveals nothing of any namespace (the OpenAPI document): any grant of the access
    /// will do.
    Anywhere,
    /// A namespace; the empty one is the whole catalog (the top-level listing,
    /// `/metrics`, which name every table), covered only by a `""` grant.
    Namespace(Vec<String>),
}

/// What a request needs: an access somewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// Where.
    pub scope: Scope,
    /// At least this access.
    pub access: Access,
}

impl Principal {
    /// Whether the principal's grants give what `need` asks.
    pub fn allows(&self, need: &Need) -> bool {
        match &need.scope {
            Scope::Anywhere => self.has_any(need.access),
            Scope::Namespace(ns) => self.access_to(ns).is_some_and(|a| a >= need.access),
        }
    }
}

/// What a caller needs to make a request on a route (only with authentication on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing: no token either.
    Open,
    /// Any grant of this access, wherever (the OpenAPI document reveals no namespace).
    Any(Access),
    /// A grant on the whole catalog (`/metrics`, which names every table).
    Catalog(Access),
    /// A grant on the namespace of the `{namespace}` path parameter.
    PathNamespace(Access),
    /// A grant on the `parent` query parameter's namespace; the whole catalog when it
    /// is absent or empty (the top-level listing).
    ParentNamespace(Access),
    /// A grant on each namespace the typed request body names; the handler checks it
    /// once the body parsed.
    BodyNamespaces(Access),
}

impl Needs {
    /// What a request needs before its handler runs, given its decoded `{namespace}`
    /// path parameter and its `parent` query parameter (each read only where it counts);
    /// `None` when nothing is checked then (open routes, and the body routes, whose
    /// handlers check). A namespace that cannot be read is an error (a 400), never taken
    /// as naming none.
    pub fn before_handler(
        self,
        path_namespace: Option<&str>,
        parent: Option<&str>,
    ) -> crate::error::Result<Option<Need>> {
        let need = |scope, access| Ok(Some(Need { scope, access }));
        match self {
            Needs::Open | Needs::BodyNamespaces(_) => Ok(None),
            Needs::Any(access) => need(Scope::Anywhere, access),
            Needs::Catalog(access) => need(Scope::Namespace(Vec::new()), access),
            Needs::PathNamespace(access) => {
                let raw = path_namespace.ok_or_else(|| {
                    crate::error::CatalogError::bad_request("the path names no namespace")
                })?;
                need(Scope::Namespace(levels(raw)?), access)
            }
            Needs::ParentNamespace(access) => {
                let parent = match parent {
                    Some(p) if !p.is_empty() => levels(p)?,
                    _ => Vec::new(),
                };
                need(Scope::Namespace(parent), access)
            }
        }
    }
}

/// The levels of a decoded namespace path parameter or `parent` value.
fn levels(decoded: &str) -> crate::error::Result<Vec<String>> {
    crate::names::parse_namespace(decoded).map(|ns| ns.inner())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
