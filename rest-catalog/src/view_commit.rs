//! The view rules as pure functions: the REST requests of the view endpoints, building a
//! new view's first metadata, and checking and applying a view commit (the spec's
//! `assert-view-uuid` and view updates). No I/O here; the catalog writes what they build.

use std::collections::HashMap;

use iceberg::spec::{Schema, ViewFormatVersion, ViewMetadata, ViewMetadataBuilder, ViewVersion};
use iceberg::{TableIdent, ViewUpdate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::commit::{update_name, CommitRuleError};

/// `POST /v1/namespaces/{namespace}/views`: a new view.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreateViewRequest {
    /// The view's name in the namespace.
    pub name: String,
    /// Where its metadata files go; the warehouse's default place when absent.
    pub location: Option<String>,
    /// The schema of the view's rows.
    pub schema: Schema,
    /// The first version; its schema id is replaced by the id the schema gets.
    pub view_version: ViewVersion,
    /// The view's properties.
    #[serde(default)]
    pub properties: HashMap<String, String>,
}

/// A requirement of a view commit: the spec has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ViewRequirement {
    /// The view's uuid must be `uuid`: the view was not dropped and created again.
    #[serde(rename = "assert-view-uuid")]
    AssertViewUuid {
        /// The uuid the client loaded.
        uuid: Uuid,
    },
}

/// `POST /v1/namespaces/{namespace}/views/{view}`: requirements and updates of one view.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommitViewRequest {
    /// The view, if the client names it in the body too.
    pub identifier: Option<TableIdent>,
    /// Checked on the current metadata; any that fails makes the commit a conflict.
    #[serde(default)]
    pub requirements: Vec<ViewRequirement>,
    /// Applied in order when they hold.
    pub updates: Vec<ViewUpdate>,
}

/// `POST /v1/namespaces/{namespace}/register-view`: a view at an existing metadata file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RegisterViewRequest {
    /// The view's name in the namespace.
    pub name: String,
    /// The metadata file it starts from.
    pub metadata_location: String,
}

/// A new view's first metadata: format version 1, `schema` as schema 0 (its id is put into
/// the version), the uuid given, and `location`.
pub fn new_view_metadata(
    request: CreateViewRequest,
    location: String,
    uuid: Uuid,
) -> Result<ViewMetadata, CommitRuleError> {
    ViewMetadataBuilder::new(
        location,
        request.schema,
        request.view_version,
        ViewFormatVersion::V1,
        request.properties,
    )
    .map(|b| b.assign_uuid(uuid))
    .and_then(|b| b.build())
    .map(|built| built.metadata)
    .map_err(|e| invalid("view metadata", e))
}

/// Checks every requirement against the view's current metadata.
pub fn check_view_requirements(
    base: &ViewMetadata,
    requirements: &[ViewRequirement],
) -> Result<(), CommitRuleError> {
    for requirement in requirements {
        match requirement {
            ViewRequirement::AssertViewUuid { uuid } if *uuid != base.uuid() => {
                return Err(CommitRuleError::RequirementFailed(Box::new(
                    iceberg::Error::new(
                        iceberg::ErrorKind::DataInvalid,
                        format!(
                            "requirement failed: view uuid {} does not match the expected {uuid}",
                            base.uuid()
                        ),
                    ),
                )));
            }
            ViewRequirement::AssertViewUuid { .. } => {}
        }
    }
    Ok(())
}

/// Applies a commit to a view's current metadata: `None` when the updates change nothing.
pub fn apply_view_commit(
    base: &ViewMetadata,
    requirements: &[ViewRequirement],
    updates: Vec<ViewUpdate>,
) -> Result<Option<ViewMetadata>, CommitRuleError> {
    check_view_requirements(base, requirements)?;
    let mut builder = base.clone().into_builder();
    for update in updates {
        builder = apply_view_update(builder, base, update)?;
    }
    let built = builder.build().map_err(|e| invalid("view metadata", e))?;
    Ok((!built.changes.is_empty()).then_some(built.metadata))
}

fn apply_view_update(
    builder: ViewMetadataBuilder,
    base: &ViewMetadata,
    update: ViewUpdate,
) -> Result<ViewMetadataBuilder, CommitRuleError> {
    let what = update_name(&update);
    let applied = match update {
        ViewUpdate::AssignUuid { uuid } if uuid != base.uuid() => {
            return Err(CommitRuleError::InvalidUpdate {
                what: format!(
                    "{what}: a view's uuid cannot change (it is {}, not {uuid})",
                    base.uuid()
                ),
                source: None,
            })
        }
        ViewUpdate::AssignUuid { uuid } => Ok(builder.assign_uuid(uuid)),
        ViewUpdate::UpgradeFormatVersion { format_version } => {
            builder.upgrade_format_version(format_version)
        }
        ViewUpdate::AddSchema { schema, .. } => Ok(builder.add_schema(schema)),
        ViewUpdate::SetLocation { location } => Ok(builder.set_location(location)),
        ViewUpdate::SetProperties { updates } => builder.set_properties(updates),
        ViewUpdate::RemoveProperties { removals } => Ok(builder.remove_properties(&removals)),
        ViewUpdate::AddViewVersion { view_version } => builder.add_version(view_version),
        ViewUpdate::SetCurrentViewVersion { view_version_id } => {
            builder.set_current_version_id(view_version_id)
        }
    };
    applied.map_err(|e| invalid(&what, e))
}

fn invalid(what: &str, source: iceberg::Error) -> CommitRuleError {
    CommitRuleError::InvalidUpdate {
        what: what.to_string(),
        source: Some(Box::new(source)),
    }
}

#[cfg(test)]
#[path = "view_commit_tests.rs"]
mod tests;
