//! A thin client of the Iceberg REST catalog protocol for Floe's writer, CLI and Python
//! package: load a table, create a namespace or table, and commit requirements plus
//! updates; and the table layer's [`TableCatalog`] over it, so the upsert writer, the
//! compactor and snapshot expiry reach any Iceberg REST catalog.
//!
//! iceberg 0.10's `Catalog` trait cannot carry a commit that adds delete files (its
//! `TableCommit` builder is crate-private), so the client speaks the protocol itself, with
//! the request and response types of `iceberg-catalog-rest`. It reads `/v1/config` for the
//! catalog's path prefix and sends the standard `CommitTableRequest`. Every request
//! carries the token of the `auth` module; a 401 to a credential's token is answered by a
//! new token and the same request once more.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use floe_table::storage::{file_io_for, ObjectStoreStorageFactory};
use floe_table::{ErrorKind, LoadedTable, TableCatalog, TableCommit, NAMESPACE_SEPARATOR};
use iceberg::spec::{Schema, UnboundPartitionSpec};
use iceberg::{NamespaceIdent, TableIdent};
use iceberg_catalog_rest::{
    CommitTableRequest, CreateNamespaceRequest, CreateTableRequest, LoadTableResult,
};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::auth::{self, Auth};

/// How a request to the catalog went wrong.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// 404: the table or namespace does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409 on a commit: a requirement did not hold, nothing was committed.
    #[error("commit conflict: {0}")]
    Conflict(String),
    /// The commit was sent but its outcome is not known (5xx, or the connection broke
    /// after the request left). It may or may not have landed.
    #[error("commit outcome unknown: {message}")]
    Unknown {
        /// What happened (with the cause's text).
        message: String,
        /// The cause, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// Any other refusal (400, 401, 403, 406, 422, ...), with the catalog's message.
    #[error("the catalog refused the request ({status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The catalog's message.
        message: String,
    },
    /// 401 to a token the caller gave: the catalog no longer accepts it (it expired or was
    /// revoked), and the client cannot get a new one; nothing was done.
    #[error(
        "the catalog refused the token (401: it expired or was revoked): {message}; a token \
         given as is cannot be refreshed: connect with a credential ID:SECRET instead, and \
         the client fetches a new token before the old one expires"
    )]
    TokenRefused {
        /// The catalog's message.
        message: String,
    },
    /// A token or credential given as `@PATH` could not be read from that file, or it was
    /// empty; nothing was sent.
    #[error("cannot read the {what} from {}: {reason}", path.display())]
    SecretFile {
        /// `token` or `credential`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why (with the cause's text).
        reason: String,
        /// The cause, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The catalog could not be reached, so the request certainly did nothing.
    #[error("cannot reach the catalog at {url}: {message}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why (with the cause's text).
        message: String,
        /// The cause, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The request could not be made as asked (a malformed credential, say); nothing was
    /// sent.
    #[error("{0}")]
    Invalid(String),
    /// The catalog answered with something this client cannot read.
    #[error("unreadable answer from the catalog: {message}")]
    BadResponse {
        /// What could not be read (with the cause's text).
        message: String,
        /// The cause.
        #[source]
        source: Option<Cause>,
    },
}

/// The error beneath a client error.
type Cause = Box<dyn std::error::Error + Send + Sync>;

impl RestError {
    /// An unknown outcome: `context`, because of `cause`.
    pub(crate) fn unknown(context: impl std::fmt::Display, cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        RestError::Unknown {
            message: format!("{context}: {cause}"),
            source: Some(cause),
        }
    }

    /// An answer that cannot be read: `context`, because of `cause`.
    pub(crate) fn bad_response(context: impl std::fmt::Display, cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        RestError::BadResponse {
            message: format!("{context}: {cause}"),
            source: Some(cause),
        }
    }

    /// `url` could not be reached because of `cause`.
    pub(crate) fn unreachable(url: impl Into<String>, cause: impl Into<Cause>) -> Self {
        let cause = cause.into();
        RestError::Unreachable {
            url: url.into(),
            message: cause.to_string(),
            source: Some(cause),
        }
    }
}

/// Parses `ns.table` (or `a.b.table` for a nested namespace).
pub fn parse_table_ident(name: &str) -> Result<TableIdent, String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "table name {name:?} must be namespace.table (for example db.events)"
        ));
    }
    let (table, ns) = parts.split_last().expect("two parts at least");
    let ns = NamespaceIdent::from_strs(ns.iter().copied()).map_err(|e| e.to_string())?;
    Ok(TableIdent::new(ns, table.to_string()))
}

/// A client of one Iceberg REST catalog.
#[derive(Clone, Debug)]
pub struct RestClient {
    http: reqwest::Client,
    /// `<uri>/v1/<prefix>/`, ending in `/`.
    base: Url,
    /// The bearer token sent with every request, and how it is renewed; shared by clones.
    auth: Arc<Auth>,
    /// This client's own storage settings (S3 credentials, say), used where a loaded
    /// table's `config` does not set a field.
    storage: ObjectStoreStorageFactory,
}

#[derive(Deserialize)]
struct ConfigResponse {
    #[serde(default)]
    overrides: HashMap<String, String>,
}

impl RestClient {
    /// Connects to the catalog at `uri` (for example `http://127.0.0.1:8181`) and reads its
    /// configuration (the path prefix).
    pub async fn connect(uri: &str) -> Result<Self, RestError> {
        Self::connect_with_token(uri, None).await
    }

    /// A token from the catalog's OAuth2 token endpoint (`<uri>/v1/oauth/tokens`) for
    /// the client credentials `client_id` / `secret`, once: a client that refreshes its
    /// token comes from [`RestClient::connect_with_credential`].
    pub async fn fetch_token(
        uri: &str,
        client_id: &str,
        secret: &str,
    ) -> Result<String, RestError> {
        auth::fetch_token(&http_client(uri)?, uri, client_id, secret).await
    }

    /// Like `connect`, sending `token` as a bearer token with every request. The client
    /// cannot renew it: once the catalog refuses it (expired, revoked), every request
    /// fails with [`RestError::TokenRefused`].
    pub async fn connect_with_token(uri: &str, token: Option<String>) -> Result<Self, RestError> {
        let auth = token.map_or(Auth::Anonymous, Auth::Static);
        Self::connect_with_auth(uri, http_client(uri)?, auth).await
    }

    /// Like `connect`, with a token from the catalog's token endpoint for the OAuth2 client
    /// credentials `client_id` / `secret`, which the client keeps to refresh the token
    /// before it expires and when the catalog refuses it (see the `auth` module for the
    /// rule); the clones of the client share the token.
    pub async fn connect_with_credential(
        uri: &str,
        client_id: &str,
        secret: &str,
    ) -> Result<Self, RestError> {
        let http = http_client(uri)?;
        let auth = Auth::credential(http.clone(), uri, client_id, secret).await?;
        Self::connect_with_auth(uri, http, auth).await
    }

    async fn connect_with_auth(
        uri: &str,
        http: reqwest::Client,
        auth: Auth,
    ) -> Result<Self, RestError> {
        let root = Url::parse(&format!("{}/", uri.trim_end_matches('/'))).map_err(|e| {
            RestError::Unreachable {
                url: uri.to_string(),
                message: format!("not a URL: {e}"),
                source: Some(e.into()),
            }
        })?;
        let mut client = Self {
            http,
            base: root.join("v1/").expect("static path"),
            auth: Arc::new(auth),
            storage: ObjectStoreStorageFactory::default(),
        };
        let config: ConfigResponse =
            serde_json::from_value(client.send(Method::GET, &["config"], None).await?)
                .map_err(|e| RestError::bad_response("/v1/config", e))?;
        if let Some(prefix) = config.overrides.get("prefix").filter(|p| !p.is_empty()) {
            client.base = client.url(&[prefix]);
            client.base.path_segments_mut().expect("http URL").push("");
        }
        Ok(client)
    }

    /// This client with its own storage settings (credentials, say), used where a loaded
    /// table's `config` leaves a field unset: the catalog's answer wins where both set one,
    /// as in Iceberg's other clients.
    pub fn with_storage(mut self, storage: ObjectStoreStorageFactory) -> Self {
        self.storage = storage;
        self
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http URL")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// A request to `namespaces/<ns>/tables`, or to `.../tables/<table>` when `table` is
    /// given (namespace levels joined by the spec's unit separator).
    async fn send_tables(
        &self,
        method: Method,
        ns: &NamespaceIdent,
        table: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, RestError> {
        let ns = ns.join(NAMESPACE_SEPARATOR.encode_utf8(&mut [0; 4]));
        let mut segments = vec!["namespaces", &ns, "tables"];
        segments.extend(table);
        self.send(method, &segments, body).await
    }

    /// Sends a request with the current token; on a 401, once more with a new token when
    /// the client has credentials (a 401 comes before the catalog does anything, so a
    /// commit is sent again safely).
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<Value, RestError> {
        let url = self.url(segments);
        let token = self.auth.token().await?;
        let mut answer = self
            .attempt(&method, &url, token.as_deref(), body.as_ref())
            .await?;
        if answer.0 == StatusCode::UNAUTHORIZED {
            if let Some(fresh) = self.auth.after_refusal(token.as_deref()).await? {
                answer = self
                    .attempt(&method, &url, Some(&fresh), body.as_ref())
                    .await?;
            }
        }
        let (status, text) = answer;
        if status.is_success() {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| RestError::bad_response(&url, e));
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(text);
        let is_commit = method == Method::POST;
        Err(match status {
            StatusCode::NOT_FOUND => RestError::NotFound(message),
            StatusCode::UNAUTHORIZED if self.auth.is_static() => {
                RestError::TokenRefused { message }
            }
            StatusCode::CONFLICT if is_commit => RestError::Conflict(message),
            s if is_commit && s.is_server_error() => RestError::Unknown {
                message: format!("{s}: {message}"),
                source: None,
            },
            s => RestError::Rejected {
                status: s.as_u16(),
                message,
            },
        })
    }

    /// Sends one request (the body serialized anew each time) and reads its answer.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), RestError> {
        let is_commit = method == Method::POST;
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() || !is_commit {
                RestError::unreachable(url.as_str(), e)
            } else {
                RestError::unknown(url, e)
            }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            if is_commit {
                RestError::unknown(format!("{url}: reading the answer"), e)
            } else {
                RestError::bad_response(url, e)
            }
        })?;
        Ok((status, text))
    }

    /// The table of a load (or commit) answer, with the file I/O its `config` describes
    /// over this client's own storage settings.
    fn loaded(&self, ident: &TableIdent, value: Value) -> Result<LoadedTable, RestError> {
        let answer: LoadTableResult = serde_json::from_value(value)
            .map_err(|e| RestError::bad_response(format!("table {ident}"), e))?;
        let file_io = file_io_for(answer.metadata.location(), &answer.config, &self.storage)
            .map_err(|e| RestError::bad_response(format!("table {ident}"), e))?;
        Ok(LoadedTable {
            ident: ident.clone(),
            metadata_location: answer.metadata_location.unwrap_or_default(),
            metadata: Arc::new(answer.metadata),
            file_io,
        })
    }

    /// Loads the table's current metadata.
    pub async fn load_table(&self, ident: &TableIdent) -> Result<LoadedTable, RestError> {
        let value = self
            .send_tables(Method::GET, ident.namespace(), Some(ident.name()), None)
            .await?;
        self.loaded(ident, value)
    }

    /// Creates the namespace unless it exists (its parents must exist).
    pub async fn ensure_namespace(&self, ns: &NamespaceIdent) -> Result<(), RestError> {
        let body = to_body(&CreateNamespaceRequest {
            namespace: ns.clone(),
            properties: HashMap::new(),
        })?;
        match self.send(Method::POST, &["namespaces"], Some(body)).await {
            Ok(_) => Ok(()),
            Err(RestError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates a table.
    pub async fn create_table(
        &self,
        ident: &TableIdent,
        schema: &Schema,
        spec: &UnboundPartitionSpec,
        properties: &HashMap<String, String>,
    ) -> Result<LoadedTable, RestError> {
        let body = to_body(&CreateTableRequest {
            name: ident.name().to_string(),
            location: None,
            schema: schema.clone(),
            partition_spec: Some(spec.clone()),
            write_order: None,
            stage_create: None,
            properties: properties.clone(),
        })?;
        let value = self
            .send_tables(Method::POST, ident.namespace(), None, Some(body))
            .await
            .map_err(|e| match e {
                // A create is not a table commit: a 5xx simply failed.
                RestError::Unknown { message, .. } => RestError::Rejected {
                    status: 500,
                    message,
                },
                e => e,
            })?;
        self.loaded(ident, value)
    }

    /// Commits `commit` to the table if its requirements hold; answers the new metadata.
    /// An answer that cannot be read leaves the outcome unknown.
    pub async fn commit(
        &self,
        ident: &TableIdent,
        commit: TableCommit,
    ) -> Result<LoadedTable, RestError> {
        let body = to_body(&CommitTableRequest {
            identifier: Some(ident.clone()),
            requirements: commit.requirements,
            updates: commit.updates,
        })?;
        let value = self
            .send_tables(
                Method::POST,
                ident.namespace(),
                Some(ident.name()),
                Some(body),
            )
            .await?;
        self.loaded(ident, value).map_err(|e| match e {
            RestError::BadResponse { message, source } => RestError::Unknown {
                message: format!("the commit's answer: {message}"),
                source,
            },
            e => e,
        })
    }
}

/// The HTTP client of every request to the catalog at `uri` (and its token endpoint).
fn http_client(uri: &str) -> Result<reqwest::Client, RestError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| RestError::unreachable(uri, e))
}

/// A request body.
fn to_body(request: &impl serde::Serialize) -> Result<Value, RestError> {
    serde_json::to_value(request).map_err(|e| RestError::bad_response("request body", e))
}

/// The REST client's errors as the table layer's, by what they say of the outcome.
impl From<RestError> for floe_table::Error {
    fn from(e: RestError) -> Self {
        let kind = match &e {
            RestError::NotFound(_) => ErrorKind::NotFound,
            RestError::Conflict(_) => ErrorKind::Conflict,
            RestError::Unknown { .. } => ErrorKind::Unknown,
            RestError::Rejected { .. }
            | RestError::TokenRefused { .. }
            | RestError::SecretFile { .. }
            | RestError::Invalid(_) => ErrorKind::Invalid,
            RestError::Unreachable { .. } | RestError::BadResponse { .. } => ErrorKind::Io,
        };
        floe_table::Error::new(kind, e.to_string()).with_source(e)
    }
}

#[async_trait]
impl TableCatalog for RestClient {
    async fn load_table(&self, ident: &TableIdent) -> floe_table::Result<LoadedTable> {
        Ok(RestClient::load_table(self, ident).await?)
    }

    async fn commit_table(
        &self,
        ident: &TableIdent,
        commit: TableCommit,
    ) -> floe_table::Result<LoadedTable> {
        Ok(RestClient::commit(self, ident, commit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        let cases = [
            ("db.t", Some((vec!["db"], "t"))),
            ("a.b.t", Some((vec!["a", "b"], "t"))),
            ("t", None),
            ("db.", None),
            (".t", None),
            ("a..t", None),
        ];
        for (name, expected) in cases {
            let got = parse_table_ident(name).ok();
            let got = got.map(|i| (i.namespace().as_ref().clone(), i.name().to_string()));
            let expected = expected.map(|(ns, t)| {
                (
                    ns.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    t.to_string(),
                )
            });
            assert_eq!(got, expected, "{name}");
        }
    }
}
