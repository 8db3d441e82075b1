//! The table an upsert writer writes: an existing upsert table, checked against the key
//! the caller asked for, or the layout of a new one from the input's columns and its
//! creation (format version 2, identifier fields from the key, `bucket(N, key)`).

use std::collections::{BTreeSet, HashMap};

use arrow::datatypes::Schema as ArrowSchema;
use floe_table::properties::{DEFAULT_FORMAT_VERSION, FORMAT_VERSION};
use floe_upsert::{key_layout, new_table_layout, upsert_layout, LayoutError, UpsertLayout};
use iceberg::spec::{Schema, UnboundPartitionSpec};
use iceberg::TableIdent;

use crate::rest::{RestClient, RestError};

/// Why the upsert table could not be found or made.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The table's key is not the one asked for.
    #[error("the table's key is {table:?}, not {asked:?}")]
    KeyMismatch {
        /// The table's key columns.
        table: Vec<String>,
        /// The key columns asked for.
        asked: Vec<String>,
    },
    /// A new table needs key columns.
    #[error("creating the table needs a key: the columns that identify a row")]
    NoKey,
    /// The table is not an upsert table, or the new one's layout is not possible.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The catalog failed or refused.
    #[error(transparent)]
    Rest(#[from] RestError),
}

impl TargetError {
    /// Whether the caller's input is at fault (as opposed to the catalog or the network).
    pub fn is_input(&self) -> bool {
        !matches!(self, TargetError::Rest(e) if !matches!(e, RestError::Invalid(_)))
    }
}

/// The existing upsert table `ident`'s schema and layout, or `None` when there is no such
/// table. A non-empty `key` must be the table's key.
pub async fn find_upsert_table(
    client: &RestClient,
    ident: &TableIdent,
    key: &[String],
) -> Result<Option<(Schema, UpsertLayout)>, TargetError> {
    let table = match client.load_table(ident).await {
        Ok(table) => table,
        Err(RestError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let layout = upsert_layout(&table.metadata)?;
    let table_key: BTreeSet<&String> = layout.key_names.iter().collect();
    let asked: BTreeSet<&String> = key.iter().collect();
    if !asked.is_empty() && asked != table_key {
        return Err(TargetError::KeyMismatch {
            table: table_key.into_iter().cloned().collect(),
            asked: asked.into_iter().cloned().collect(),
        });
    }
    Ok(Some((
        table.metadata.current_schema().as_ref().clone(),
        layout,
    )))
}

/// A new upsert table's schema, layout and partition spec.
#[derive(Clone, Debug)]
pub struct NewUpsertTable {
    /// The columns of the input (less `_op`), the key columns required.
    pub schema: Schema,
    /// Its key.
    pub layout: UpsertLayout,
    /// `bucket(buckets, first key column)`.
    pub spec: UnboundPartitionSpec,
}

/// The layout of a new upsert table with `input`'s columns, keyed by `key`, in `buckets`
/// buckets.
pub fn new_upsert_table(
    input: &ArrowSchema,
    key: &[String],
    buckets: u32,
) -> Result<NewUpsertTable, TargetError> {
    if key.is_empty() {
        return Err(TargetError::NoKey);
    }
    let (schema, spec) = new_table_layout(input, key, buckets)?;
    let layout = key_layout(&schema)?;
    Ok(NewUpsertTable {
        schema,
        layout,
        spec,
    })
}

/// Creates `table` as `ident` (and its namespace when missing). Answers false when a
/// table of that name appeared meanwhile: load it and check it instead.
pub async fn create_upsert_table(
    client: &RestClient,
    ident: &TableIdent,
    table: &NewUpsertTable,
) -> Result<bool, RestError> {
    client.ensure_namespace(ident.namespace()).await?;
    let props = HashMap::from([(
        FORMAT_VERSION.to_string(),
        DEFAULT_FORMAT_VERSION.to_string(),
    )]);
    match client
        .create_table(ident, &table.schema, &table.spec, &props)
        .await
    {
        Ok(_) => Ok(true),
        Err(RestError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
