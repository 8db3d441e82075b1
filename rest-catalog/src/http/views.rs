//! View endpoints: list, create, load, exists, replace (a commit), drop, rename and
//! register. Answers have the spec's `LoadViewResult` shape around the view's metadata
//! file as it is.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use iceberg_catalog_rest::{ListTablesResponse, RenameTableRequest};

use super::audit::Touched;
use super::auth::Caller;
use super::body::{page_request, JsonBody};
use super::tables::{
    check_commit_body, client_config_json, list_answer, metadata_answer, table_ident,
};
use crate::catalog::{Catalog, ViewMetadataFile};
use crate::error::{CatalogError, Result};
use crate::names::parse_namespace;
use crate::view_commit::{CommitViewRequest, CreateViewRequest, RegisterViewRequest};

/// `{"metadata-location", "config", "metadata"}` of a view.
fn view_response(catalog: &Catalog, file: &ViewMetadataFile) -> Response {
    let config = client_config_json(catalog);
    metadata_answer(&file.location, &file.json, &config, None)
}

/// `GET /v1/namespaces/{namespace}/views`: the namespace's views, a page at a time.
pub async fn list(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ListTablesResponse>> {
    let ns = parse_namespace(&namespace)?;
    let listed = catalog.list_views(&ns, &page_request(&query)?).await?;
    Ok(list_answer(listed))
}

/// `POST /v1/namespaces/{namespace}/views`: a new view.
pub async fn create(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    touched: Touched,
    JsonBody(request): JsonBody<CreateViewRequest>,
) -> Result<Response> {
    let ns = parse_namespace(&namespace)?;
    touched.named(&ns, &request.name);
    let file = catalog.create_view(&ns, request).await?;
    Ok(view_response(&catalog, &file))
}

/// `GET /v1/namespaces/{namespace}/views/{view}`: the view's metadata.
pub async fn load(
    State(catalog): State<Catalog>,
    Path((namespace, view)): Path<(String, String)>,
) -> Result<Response> {
    let file = catalog.load_view(&table_ident(&namespace, &view)?).await?;
    Ok(view_response(&catalog, &file))
}

/// `HEAD /v1/namespaces/{namespace}/views/{view}`: 204 if it exists.
pub async fn exists(
    State(catalog): State<Catalog>,
    Path((namespace, view)): Path<(String, String)>,
) -> Result<StatusCode> {
    let ident = table_ident(&namespace, &view)?;
    if catalog.view_exists(&ident).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(CatalogError::NoSuchView(ident.to_string()))
    }
}

/// `POST /v1/namespaces/{namespace}/views/{view}`: the spec's "replace view", a commit of
/// requirements and updates.
pub async fn commit(
    State(catalog): State<Catalog>,
    Path((namespace, view)): Path<(String, String)>,
    JsonBody(request): JsonBody<CommitViewRequest>,
) -> Result<Response> {
    let ident = table_ident(&namespace, &view)?;
    let items = request.updates.len() + request.requirements.len();
    check_commit_body("view", &ident, request.identifier.as_ref(), items)?;
    let file = catalog
        .commit_view(&ident, request.requirements, request.updates)
        .await?;
    Ok(view_response(&catalog, &file))
}

/// `DELETE /v1/namespaces/{namespace}/views/{view}`: the view goes; its files stay.
pub async fn drop(
    State(catalog): State<Catalog>,
    Path((namespace, view)): Path<(String, String)>,
) -> Result<StatusCode> {
    catalog.drop_view(&table_ident(&namespace, &view)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/views/rename`: a view moves to another name, maybe another namespace.
pub async fn rename(
    State(catalog): State<Catalog>,
    caller: Caller,
    touched: Touched,
    JsonBody(request): JsonBody<RenameTableRequest>,
) -> Result<StatusCode> {
    touched.renamed(&request);
    caller.may(&request)?;
    catalog
        .rename_view(&request.source, &request.destination)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/namespaces/{namespace}/register-view`: a view over an existing metadata file.
pub async fn register(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    touched: Touched,
    JsonBody(request): JsonBody<RegisterViewRequest>,
) -> Result<Response> {
    let ns = parse_namespace(&namespace)?;
    touched.named(&ns, &request.name);
    let file = catalog.register_view(&ns, request).await?;
    Ok(view_response(&catalog, &file))
}
