//! The commit rules as pure functions: check a commit's requirements against the table's
//! current metadata, apply its updates, and name the next metadata file. No I/O here, so
//! every rule is unit-tested without a server (see the tests at the bottom).

use std::collections::HashMap;

use iceberg::spec::{
    FormatVersion, Schema, SortOrder, TableMetadata, TableMetadataBuilder, UnboundPartitionSpec,
};
use iceberg::{TableRequirement, TableUpdate};
use uuid::Uuid;

/// Why a commit cannot be applied. Both leave the table as it was.
#[derive(Debug, thiserror::Error)]
pub enum CommitRuleError {
    /// A requirement does not hold on the current metadata: the client's view is stale.
    #[error(transparent)]
    RequirementFailed(Box<iceberg::Error>),
    /// An update is invalid on its own or against the metadata (bad schema id, ...).
    #[error("{what}{}", .source.as_ref().map_or(String::new(), |e| format!(": {e}")))]
    InvalidUpdate {
        /// The update (`add-snapshot`, ...), what was being built, or what is missing.
        what: String,
        /// Why iceberg refused it.
        source: Option<Box<iceberg::Error>>,
    },
}

/// The outcome of applying a commit to a table's metadata.
#[derive(Debug)]
pub enum AppliedCommit {
    /// The updates changed nothing: no new metadata file is needed.
    Unchanged,
    /// The new metadata to write.
    Changed(Box<TableMetadata>),
}

/// Checks every requirement against `base` (`None`: the table does not exist).
pub fn check_requirements(
    base: Option<&TableMetadata>,
    requirements: &[TableRequirement],
) -> Result<(), CommitRuleError> {
    for requirement in requirements {
        requirement
            .check(base)
            .map_err(|e| CommitRuleError::RequirementFailed(Box::new(e)))?;
    }
    Ok(())
}

/// Whether a commit creates its table (a staged create finished by `assert-create`).
pub fn is_create(requirements: &[TableRequirement]) -> bool {
    requirements
        .iter()
        .any(|r| matches!(r, TableRequirement::NotExist))
}

/// Applies a commit to an existing table whose current metadata file is `base_location`.
pub fn apply_to_existing(
    base: &TableMetadata,
    base_location: &str,
    requirements: &[TableRequirement],
    updates: Vec<TableUpdate>,
) -> Result<AppliedCommit, CommitRuleError> {
    check_requirements(Some(base), requirements)?;
    if updates.is_empty() {
        return Ok(AppliedCommit::Unchanged);
    }
    let mut builder = base.clone().into_builder(Some(base_location.to_string()));
    for update in updates {
        builder = apply_update(builder, update)?;
    }
    let built = builder.build().map_err(invalid)?;
    if built.changes.is_empty() {
        return Ok(AppliedCommit::Unchanged);
    }
    Ok(AppliedCommit::Changed(Box::new(built.metadata)))
}

/// Builds a new table's first metadata from a create commit: the `add-schema`,
/// `add-spec`, `add-sort-order`, `set-location` and `upgrade-format-version` updates give
/// the starting point (as Java's `buildFromEmpty` does), then every update is applied in
/// order on top of it; re-adding what the start already holds is a no-op.
pub fn apply_create(
    requirements: &[TableRequirement],
    updates: Vec<TableUpdate>,
    default_location: &str,
) -> Result<TableMetadata, CommitRuleError> {
    check_requirements(None, requirements)?;
    let mut schema: Option<Schema> = None;
    let mut spec: Option<UnboundPartitionSpec> = None;
    let mut order: Option<SortOrder> = None;
    let mut location: Option<String> = None;
    let mut format_version = FormatVersion::V2;
    for update in &updates {
        match update {
            TableUpdate::AddSchema { schema: s } if schema.is_none() => schema = Some(s.clone()),
            TableUpdate::AddSpec { spec: s } if spec.is_none() => spec = Some(s.clone()),
            TableUpdate::AddSortOrder { sort_order } if order.is_none() => {
                order = Some(sort_order.clone())
            }
            TableUpdate::SetLocation { location: l } => location = Some(l.clone()),
            TableUpdate::UpgradeFormatVersion { format_version: v } => format_version = *v,
            _ => {}
        }
    }
    let schema = schema.ok_or_else(|| CommitRuleError::InvalidUpdate {
        what: "a create commit needs an add-schema update".into(),
        source: None,
    })?;
    let mut builder = TableMetadataBuilder::new(
        schema,
        spec.unwrap_or_else(|| UnboundPartitionSpec::builder().build()),
        order.unwrap_or_else(SortOrder::unsorted_order),
        location.unwrap_or_else(|| default_location.to_string()),
        format_version,
        HashMap::new(),
    )
    .map_err(invalid)?;
    for update in updates {
        builder = apply_update(builder, update)?;
    }
    Ok(builder.build().map_err(invalid)?.metadata)
}

fn apply_update(
    builder: TableMetadataBuilder,
    update: TableUpdate,
) -> Result<TableMetadataBuilder, CommitRuleError> {
    let what = update_name(&update);
    update
        .apply(builder)
        .map_err(|e| CommitRuleError::InvalidUpdate {
            what,
            source: Some(Box::new(e)),
        })
}

/// The spec's name of a table or view update (`add-snapshot`, `add-view-version`, ...),
/// for error messages.
pub fn update_name(update: &impl serde::Serialize) -> String {
    serde_json::to_value(update)
        .ok()
        .and_then(|v| v.get("action").and_then(|a| a.as_str().map(String::from)))
        .unwrap_or_else(|| "update".to_string())
}

/// The file name of the metadata version after `current` (`None` for a new table):
/// `NNNNN-<uuid>.metadata.json`, the version one above the current file's, and a fresh
/// UUID so the name was never used before.
pub fn next_metadata_file_name(current: Option<&str>) -> String {
    let version = current.and_then(metadata_file_version).map_or(0, |v| v + 1);
    format!("{version:05}-{}.metadata.json", Uuid::new_v4())
}

/// The version number of a metadata file location, if it follows the
/// `NNNNN-<uuid>.metadata.json` convention.
pub fn metadata_file_version(location: &str) -> Option<u64> {
    let name = location.rsplit('/').next()?;
    let (digits, rest) = name.split_once('-')?;
    if !rest.ends_with(".metadata.json") || digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// The new metadata cannot be built.
fn invalid(source: iceberg::Error) -> CommitRuleError {
    CommitRuleError::InvalidUpdate {
        what: "table metadata".into(),
        source: Some(Box::new(source)),
    }
}

#[cfg(test)]
#[path = "commit_tests.rs"]
mod tests;
