//! Table endpoints: list, create, load, exists, commit, drop, register, rename, metrics
//! and multi-table transactions.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use iceberg::TableIdent;
use iceberg_catalog_rest::{
    CommitTableRequest, CreateTableRequest, ListTablesResponse, LoadTableResult,
    RegisterTableRequest, RenameTableRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::audit::Touched;
use super::auth::{Caller, NamesNamespaces};
use super::body::{bool_param, page_request, JsonBody};
use super::etag::{self, table_etag, SnapshotsShown};
use super::MAX_UPDATES_PER_COMMIT;
use crate::catalog::{Catalog, MetadataFile, NewTable, TableChange};
use crate::error::{CatalogError, Failure, Result};
use crate::names::{parse_namespace, validate_table_name};

/// The identifier of a table or view route's path.
pub(super) fn table_ident(namespace: &str, table: &str) -> Result<TableIdent> {
    let ns = parse_namespace(namespace)?;
    validate_table_name(table)?;
    Ok(TableIdent::new(ns, table.to_string()))
}

/// `GET /v1/namespaces/{namespace}/tables`: the namespace's tables, a page at a time.
pub async fn list(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ListTablesResponse>> {
    let ns = parse_namespace(&namespace)?;
    let listed = catalog.list_tables(&ns, &page_request(&query)?).await?;
    Ok(list_answer(listed))
}

/// A page of table or view identifiers, as the spec's `ListTablesResponse`.
pub(super) fn list_answer(
    (identifiers, next_page_token): (Vec<TableIdent>, Option<String>),
) -> Json<ListTablesResponse> {
    Json(ListTablesResponse {
        identifiers,
        next_page_token,
    })
}

/// Refuses a commit body of a table or view (`what`) on the path of `ident` that names
/// another one, or that carries more than `MAX_UPDATES_PER_COMMIT` updates and
/// requirements (`items`).
pub(super) fn check_commit_body(
    what: &str,
    ident: &TableIdent,
    named: Option<&TableIdent>,
    items: usize,
) -> Result<()> {
    if let Some(named) = named {
        if named != ident {
            return Err(CatalogError::bad_request(format!(
                "the body names {what} {named} but the path names {ident}"
            )));
        }
    }
    if items > MAX_UPDATES_PER_COMMIT {
        return Err(CatalogError::bad_request(format!(
            "a commit may carry at most {MAX_UPDATES_PER_COMMIT} updates and requirements"
        )));
    }
    Ok(())
}

/// `POST /v1/namespaces/{namespace}/tables`: a new table, or with `stage-create` the
/// metadata it would have (no `metadata-location`).
pub async fn create(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    touched: Touched,
    JsonBody(request): JsonBody<CreateTableRequest>,
) -> Result<Response> {
    let ns = parse_namespace(&namespace)?;
    touched.named(&ns, &request.name);
    Ok(match catalog.create_table(&ns, request).await? {
        NewTable::Created(file) => metadata_file_response(&catalog, &file),
        NewTable::Staged(metadata) => Json(LoadTableResult {
            metadata_location: None,
            metadata: *metadata,
            config: catalog.warehouse().client_config().clone(),
            storage_credentials: None,
        })
        .into_response(),
    })
}

/// `{"metadata-location": ..., "config": {...}, "metadata": <the file's JSON>}`: the shape
/// of both a load and a commit response, built around the metadata file's text as it is,
/// with its ETag. `config` tells clients how to reach the warehouse's files.
pub(super) fn metadata_file_response(catalog: &Catalog, file: &MetadataFile) -> Response {
    let config = client_config_json(catalog);
    let etag = table_etag(&file.location, SnapshotsShown::All, &config);
    metadata_answer(&file.location, &file.json, &config, Some(etag))
}

/// `{"metadata-location": ..., "config": ..., "metadata": ...}` around a table's or a
/// view's metadata file text (`json`), with the client configuration's JSON and the ETag
/// (if any) already at hand.
pub(super) fn metadata_answer(
    location: &str,
    json: &[u8],
    config: &[u8],
    etag: Option<HeaderValue>,
) -> Response {
    let location = serde_json::to_string(location).expect("strings serialize");
    let mut body = Vec::with_capacity(json.len() + location.len() + config.len() + 50);
    body.extend_from_slice(b"{\"metadata-location\":");
    body.extend_from_slice(location.as_bytes());
    body.extend_from_slice(b",\"config\":");
    body.extend_from_slice(config);
    body.extend_from_slice(b",\"metadata\":");
    body.extend_from_slice(json);
    body.push(b'}');
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(etag) = etag {
        etag::tag(response.headers_mut(), etag);
    }
    response
}

pub(super) fn client_config_json(catalog: &Catalog) -> Vec<u8> {
    serde_json::to_vec(catalog.warehouse().client_config()).expect("strings serialize")
}

/// `GET /v1/namespaces/{namespace}/tables/{table}`: the table's metadata; `snapshots=all`
/// (default) or `refs` (only snapshots that a branch or tag points at). With an
/// `If-None-Match` that names the answer's ETag, `304 Not Modified` and no body.
pub async fn load(
    State(catalog): State<Catalog>,
    Path((namespace, table)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response> {
    let ident = table_ident(&namespace, &table)?;
    let shown = match query.get("snapshots").map(String::as_str) {
        None | Some("all") => SnapshotsShown::All,
        Some("refs") => SnapshotsShown::Refs,
        Some(other) => {
            return Err(CatalogError::bad_request(format!(
                "invalid snapshots {other:?}: expected all or refs"
            )))
        }
    };
    let file = catalog.load_table(&ident).await?;
    let config = client_config_json(&catalog);
    let etag = table_etag(&file.location, shown, &config);
    if etag::client_has(&headers, &etag) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        etag::tag(not_modified.headers_mut(), etag);
        return Ok(not_modified);
    }
    if shown == SnapshotsShown::All {
        return Ok(metadata_answer(
            &file.location,
            &file.json,
            &config,
            Some(etag),
        ));
    }
    let mut metadata = serde_json::to_value(file.metadata.as_ref())
        .map_err(|e| CatalogError::Storage(Failure::because("cannot serialize metadata", e)))?;
    let referenced: HashSet<i64> = metadata
        .get("refs")
        .and_then(Value::as_object)
        .map(|refs| {
            refs.values()
                .filter_map(|r| r.get("snapshot-id").and_then(Value::as_i64))
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Array(snapshots)) = metadata.get_mut("snapshots") {
        snapshots.retain(|s| {
            s.get("snapshot-id")
                .and_then(Value::as_i64)
                .is_some_and(|id| referenced.contains(&id))
        });
    }
    let mut response = Json(json!({
        "metadata-location": file.location,
        "config": catalog.warehouse().client_config(),
        "metadata": metadata,
    }))
    .into_response();
    etag::tag(response.headers_mut(), etag);
    Ok(response)
}

/// `HEAD /v1/namespaces/{namespace}/tables/{table}`: 204 if it exists.
pub async fn exists(
    State(catalog): State<Catalog>,
    Path((namespace, table)): Path<(String, String)>,
) -> Result<StatusCode> {
    let ident = table_ident(&namespace, &table)?;
    if catalog.table_exists(&ident).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(CatalogError::NoSuchTable(ident.to_string()))
    }
}

fn table_change(ident: TableIdent, request: CommitTableRequest) -> Result<TableChange> {
    let items = request.updates.len() + request.requirements.len();
    check_commit_body("table", &ident, request.identifier.as_ref(), items)?;
    Ok(TableChange {
        ident,
        requirements: request.requirements,
        updates: request.updates,
    })
}

/// `POST /v1/namespaces/{namespace}/tables/{table}`: one table's commit.
pub async fn commit(
    State(catalog): State<Catalog>,
    Path((namespace, table)): Path<(String, String)>,
    JsonBody(request): JsonBody<CommitTableRequest>,
) -> Result<Response> {
    let change = table_change(table_ident(&namespace, &table)?, request)?;
    let committed = catalog.commit_table(change).await?;
    Ok(metadata_file_response(&catalog, &committed))
}

/// `DELETE /v1/namespaces/{namespace}/tables/{table}`: the table goes (its files too
/// with `purgeRequested=true`).
pub async fn drop(
    State(catalog): State<Catalog>,
    Path((namespace, table)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<StatusCode> {
    let ident = table_ident(&namespace, &table)?;
    let purge = bool_param(&query, "purgeRequested", false)?;
    catalog.drop_table(&ident, purge).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/namespaces/{namespace}/register`: a table over an existing metadata file.
pub async fn register(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    touched: Touched,
    JsonBody(request): JsonBody<RegisterTableRequest>,
) -> Result<Response> {
    let ns = parse_namespace(&namespace)?;
    touched.named(&ns, &request.name);
    let file = catalog.register_table(&ns, request).await?;
    Ok(metadata_file_response(&catalog, &file))
}

/// A rename changes both namespaces, the source's first.
impl NamesNamespaces for RenameTableRequest {
    fn namespaces(&self) -> Result<Vec<Vec<String>>> {
        Ok(vec![
            self.source.namespace.to_vec(),
            self.destination.namespace.to_vec(),
        ])
    }
}

/// `POST /v1/tables/rename`: a table moves to another name, maybe another namespace.
pub async fn rename(
    State(catalog): State<Catalog>,
    caller: Caller,
    touched: Touched,
    JsonBody(request): JsonBody<RenameTableRequest>,
) -> Result<StatusCode> {
    touched.renamed(&request);
    caller.may(&request)?;
    catalog
        .rename_table(&request.source, &request.destination)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Metrics reports are accepted (and checked to name an existing table), not stored.
pub async fn report_metrics(
    State(catalog): State<Catalog>,
    Path((namespace, table)): Path<(String, String)>,
    JsonBody(report): JsonBody<Value>,
) -> Result<StatusCode> {
    let ident = table_ident(&namespace, &table)?;
    if !report.is_object() {
        return Err(CatalogError::bad_request(
            "a metrics report is a JSON object",
        ));
    }
    if !catalog.table_exists(&ident).await? {
        return Err(CatalogError::NoSuchTable(ident.to_string()));
    }
    tracing::debug!(table = %ident, "metrics report received");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/transactions/commit`: changes to several tables, committed together.
#[derive(Deserialize)]
pub struct CommitTransactionRequest {
    #[serde(rename = "table-changes")]
    table_changes: Vec<CommitTableRequest>,
}

/// The table a change of a transaction names.
fn change_ident(change: &CommitTableRequest) -> Result<&TableIdent> {
    change.identifier.as_ref().ok_or_else(|| {
        CatalogError::bad_request("every table change of a transaction needs an identifier")
    })
}

/// A transaction changes the namespace of each table it changes.
impl NamesNamespaces for CommitTransactionRequest {
    fn namespaces(&self) -> Result<Vec<Vec<String>>> {
        self.table_changes
            .iter()
            .map(|change| Ok(change_ident(change)?.namespace.to_vec()))
            .collect()
    }
}

/// `POST /v1/transactions/commit`: every change lands, or none does.
pub async fn commit_transaction(
    State(catalog): State<Catalog>,
    caller: Caller,
    touched: Touched,
    JsonBody(request): JsonBody<CommitTransactionRequest>,
) -> Result<StatusCode> {
    // A transaction too large to run (refused below) names no table.
    if request.table_changes.len() <= MAX_UPDATES_PER_COMMIT {
        for ident in request
            .table_changes
            .iter()
            .filter_map(|c| c.identifier.as_ref())
        {
            touched.table(ident);
        }
    }
    caller.may(&request)?;
    let mut changes = Vec::with_capacity(request.table_changes.len());
    for change in request.table_changes {
        let ident = change_ident(&change)?.clone();
        changes.push(table_change(ident, change)?);
    }
    if changes.len() > MAX_UPDATES_PER_COMMIT {
        return Err(CatalogError::bad_request(format!(
            "a transaction may change at most {MAX_UPDATES_PER_COMMIT} tables"
        )));
    }
    catalog.commit_tables(changes).await?;
    Ok(StatusCode::NO_CONTENT)
}
