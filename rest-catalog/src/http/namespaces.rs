//! Namespace endpoints.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use iceberg_catalog_rest::{
    CreateNamespaceRequest, ListNamespaceResponse, NamespaceResponse,
    UpdateNamespacePropertiesRequest, UpdateNamespacePropertiesResponse,
};

use super::audit::Touched;
use super::auth::{Caller, ListedFor, NamesNamespaces};
use super::body::{page_request, JsonBody};
use crate::catalog::{store_error, Catalog};
use crate::error::Result;
use crate::names::{parse_namespace, validate_namespace};
use crate::store::{paginate, PageRequest};

/// `GET /v1/namespaces`: the namespaces directly under `parent` (the top level when it
/// is absent or empty), a page at a time; to a principal with grants only below `parent`,
/// only those on the way to them.
pub async fn list(
    State(catalog): State<Catalog>,
    listed_for: Option<Extension<ListedFor>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ListNamespaceResponse>> {
    let page = page_request(&query)?;
    let parent = match query.get("parent") {
        Some(p) if !p.is_empty() => Some(parse_namespace(p)?),
        _ => None,
    };
    let (namespaces, next_page_token) = match listed_for {
        None => catalog.list_namespaces(parent.as_ref(), &page).await?,
        Some(Extension(ListedFor(principal))) => {
            // Filtered before it is cut into pages, so that no page token names a
            // namespace the principal does not see.
            let (all, _) = (catalog)
                .list_namespaces(parent.as_ref(), &PageRequest::default())
                .await?;
            let shown = (all.into_iter())
                .filter(|ns| principal.sees(ns.as_ref()))
                .map(|ns| (ns.join("\u{1f}"), ns))
                .collect();
            paginate(shown, &page).map_err(store_error)?
        }
    };
    Ok(Json(ListNamespaceResponse {
        namespaces,
        next_page_token,
    }))
}

/// A new namespace is a change in itself.
impl NamesNamespaces for CreateNamespaceRequest {
    fn namespaces(&self) -> Result<Vec<Vec<String>>> {
        Ok(vec![self.namespace.to_vec()])
    }
}

/// `POST /v1/namespaces`: a new namespace with its properties.
pub async fn create(
    State(catalog): State<Catalog>,
    caller: Caller,
    touched: Touched,
    JsonBody(request): JsonBody<CreateNamespaceRequest>,
) -> Result<Json<NamespaceResponse>> {
    touched.namespace(&request.namespace);
    caller.may(&request)?;
    validate_namespace(&request.namespace)?;
    catalog
        .create_namespace(&request.namespace, request.properties.clone())
        .await?;
    Ok(Json(NamespaceResponse {
        namespace: request.namespace,
        properties: request.properties,
    }))
}

/// `GET /v1/namespaces/{namespace}`: its properties.
pub async fn load(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
) -> Result<Json<NamespaceResponse>> {
    let ns = parse_namespace(&namespace)?;
    let properties = catalog.load_namespace(&ns).await?;
    Ok(Json(NamespaceResponse {
        namespace: ns,
        properties,
    }))
}

/// `HEAD /v1/namespaces/{namespace}`: 204 if it exists.
pub async fn exists(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
) -> Result<StatusCode> {
    let ns = parse_namespace(&namespace)?;
    catalog.load_namespace(&ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/namespaces/{namespace}`: an empty namespace goes.
pub async fn drop(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
) -> Result<StatusCode> {
    let ns = parse_namespace(&namespace)?;
    catalog.drop_namespace(&ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/namespaces/{namespace}/properties`: properties set and removed.
pub async fn update_properties(
    State(catalog): State<Catalog>,
    Path(namespace): Path<String>,
    JsonBody(request): JsonBody<UpdateNamespacePropertiesRequest>,
) -> Result<Json<UpdateNamespacePropertiesResponse>> {
    let ns = parse_namespace(&namespace)?;
    let changes = catalog
        .update_namespace_properties(&ns, request.updates, request.removals.unwrap_or_default())
        .await?;
    Ok(Json(UpdateNamespacePropertiesResponse {
        updated: changes.updated,
        removed: changes.removed,
        missing: Some(changes.missing),
    }))
}
