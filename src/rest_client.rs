//! A thin client of the Iceberg REST catalog protocol for Floe's writer and CLI: load a
//! table, create a namespace or table, and commit a list of requirements plus updates.
//!
//! iceberg 0.10's `Catalog` trait cannot carry a commit that adds delete files (its
//! `TableCommit` builder is crate-private), so the writer speaks the protocol itself. It
//! works against any Iceberg REST catalog: it reads `/v1/config` for the catalog's path
//! prefix and sends the standard `CommitTableRequest`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use floe_rest_catalog::storage::file_io::{file_io_for, ObjectStoreStorageFactory};
use iceberg::io::FileIO;
use iceberg::spec::{Schema, TableMetadata, UnboundPartitionSpec};
use iceberg::table::Table;
use iceberg::{NamespaceIdent, TableIdent, TableRequirement, TableUpdate};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

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
    #[error("commit outcome unknown: {0}")]
    Unknown(String),
    /// Any other refusal (400, 401, 403, 406, 422, ...), with the catalog's message.
    #[error("the catalog refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The catalog could not be reached, so the request certainly did nothing.
    #[error("cannot reach the catalog at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The catalog answered with something this client cannot read.
    #[error("unreadable answer from the catalog: {0}")]
    BadResponse(String),
}

/// A table as the catalog answered it: where its metadata file is and what it says.
#[derive(Clone, Debug)]
pub struct LoadedTable {
    pub ident: TableIdent,
    pub metadata_location: String,
    pub metadata: Arc<TableMetadata>,
    /// The load answer's `config`: FileIO properties for reaching the table's files (an
    /// S3 endpoint, region and addressing style).
    pub config: HashMap<String, String>,
    /// The client's own storage settings (credentials), under `config`.
    pub storage: ObjectStoreStorageFactory,
}

impl LoadedTable {
    /// The table as an iceberg-rust [`Table`], for scans. Call it inside a tokio runtime:
    /// the table runs its work there.
    pub fn to_table(&self, file_io: FileIO) -> iceberg::Result<Table> {
        Table::builder()
            .runtime(iceberg::Runtime::try_current()?)
            .identifier(self.ident.clone())
            .metadata(self.metadata.clone())
            .metadata_location(self.metadata_location.clone())
            .file_io(file_io)
            .build()
    }

    /// The file IO that reaches the table's files: the local filesystem, or S3 as the
    /// catalog's `config` describes it (credentials from the AWS environment variables).
    pub fn file_io(&self) -> Result<FileIO, RestError> {
        file_io_for(self.metadata.location(), &self.config, &self.storage)
            .map_err(RestError::BadResponse)
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
    /// Sent as `Authorization: Bearer` on every request.
    token: Option<String>,
    /// This client's own storage settings (S3 credentials, say), used where a loaded
    /// table's `config` does not set a field.
    storage: ObjectStoreStorageFactory,
}

#[derive(Deserialize)]
struct ConfigResponse {
    #[serde(default)]
    overrides: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LoadTableResponse {
    metadata_location: Option<String>,
    metadata: TableMetadata,
    #[serde(default)]
    config: HashMap<String, String>,
}

impl RestClient {
    /// Connects to the catalog at `uri` (for example `http://127.0.0.1:8181`) and reads its
    /// configuration (the path prefix).
    pub async fn connect(uri: &str) -> Result<Self, RestError> {
        Self::connect_with_token(uri, None).await
    }

    /// A token from the catalog's OAuth2 token endpoint (`<uri>/v1/oauth/tokens`) for
    /// the client credentials `client_id` / `secret`.
    pub async fn fetch_token(
        uri: &str,
        client_id: &str,
        secret: &str,
    ) -> Result<String, RestError> {
        let url = format!("{}/v1/oauth/tokens", uri.trim_end_matches('/'));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "catalog"),
        ];
        let unreachable = |e: reqwest::Error| RestError::Unreachable {
            url: url.clone(),
            message: e.to_string(),
        };
        let response = reqwest::Client::new()
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| RestError::BadResponse(e.to_string()))?;
        match body.get("access_token").and_then(Value::as_str) {
            Some(token) if status.is_success() => Ok(token.to_string()),
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

    /// Like `connect`, sending `token` as a bearer token with every request.
    pub async fn connect_with_token(uri: &str, token: Option<String>) -> Result<Self, RestError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| RestError::BadResponse(e.to_string()))?;
        let root = Url::parse(&format!("{}/", uri.trim_end_matches('/'))).map_err(|e| {
            RestError::Unreachable {
                url: uri.to_string(),
                message: format!("not a URL: {e}"),
            }
        })?;
        let mut client = Self {
            http,
            base: root.join("v1/").expect("static path"),
            token,
            storage: ObjectStoreStorageFactory::default(),
        };
        let config: ConfigResponse =
            serde_json::from_value(client.send(Method::GET, &["config"], None).await?)
                .map_err(|e| RestError::BadResponse(format!("/v1/config: {e}")))?;
        if let Some(prefix) = config.overrides.get("prefix").filter(|p| !p.is_empty()) {
            client.base = client.url(&[prefix]);
            client.base.path_segments_mut().expect("http URL").push("");
        }
        Ok(client)
    }

    /// This client with its own storage settings (see `LoadedTable::storage`); the
    /// catalog's answer wins where both set a field, as in Iceberg's other clients.
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
        let ns = ns.join("\u{1f}");
        let mut segments = vec!["namespaces", &ns, "tables"];
        segments.extend(table);
        self.send(method, &segments, body).await
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<Value, RestError> {
        let url = self.url(segments);
        let is_commit = method == Method::POST;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() || !is_commit {
                RestError::Unreachable {
                    url: url.to_string(),
                    message: e.to_string(),
                }
            } else {
                RestError::Unknown(format!("{url}: {e}"))
            }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            if is_commit {
                RestError::Unknown(format!("{url}: reading the answer: {e}"))
            } else {
                RestError::BadResponse(e.to_string())
            }
        })?;
        if status.is_success() {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .map_err(|e| RestError::BadResponse(format!("{url}: {e}")));
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(text);
        Err(match status {
            StatusCode::NOT_FOUND => RestError::NotFound(message),
            StatusCode::CONFLICT if is_commit => RestError::Conflict(message),
            s if is_commit && s.is_server_error() => RestError::Unknown(format!("{s}: {message}")),
            s => RestError::Rejected {
                status: s.as_u16(),
                message,
            },
        })
    }

    fn loaded(&self, ident: &TableIdent, value: Value) -> Result<LoadedTable, RestError> {
        let answer: LoadTableResponse = serde_json::from_value(value)
            .map_err(|e| RestError::BadResponse(format!("table {ident}: {e}")))?;
        Ok(LoadedTable {
            ident: ident.clone(),
            metadata_location: answer.metadata_location.unwrap_or_default(),
            metadata: Arc::new(answer.metadata),
            config: answer.config,
            storage: self.storage.clone(),
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
        let body = json!({ "namespace": ns.as_ref(), "properties": {} });
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
        let body = json!({
            "name": ident.name(),
            "schema": schema,
            "partition-spec": spec,
            "properties": properties,
        });
        let value = self
            .send_tables(Method::POST, ident.namespace(), None, Some(body))
            .await
            .map_err(|e| match e {
                // A create is not a table commit: a 5xx simply failed.
                RestError::Unknown(m) => RestError::Rejected {
                    status: 500,
                    message: m,
                },
                e => e,
            })?;
        self.loaded(ident, value)
    }

    /// Commits `updates` to the table if `requirements` hold; answers the new metadata.
    pub async fn commit(
        &self,
        ident: &TableIdent,
        requirements: &[TableRequirement],
        updates: &[TableUpdate],
    ) -> Result<LoadedTable, RestError> {
        let body = json!({
            "identifier": { "namespace": ident.namespace().as_ref(), "name": ident.name() },
            "requirements": requirements,
            "updates": updates,
        });
        let value = self
            .send_tables(
                Method::POST,
                ident.namespace(),
                Some(ident.name()),
                Some(body),
            )
            .await?;
        self.loaded(ident, value)
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
