//! What the compactor needs from a catalog: load one table and commit requirements plus
//! updates to it. The `floe` crate implements it over the Iceberg REST protocol; tests can
//! implement it over anything that keeps Iceberg's commit semantics.

use std::sync::Arc;

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::TableMetadata;
use iceberg::{TableRequirement, TableUpdate};

/// A table as loaded: its metadata and the file I/O that reaches its files.
#[derive(Clone, Debug)]
pub struct LoadedTable {
    pub metadata_location: Option<String>,
    pub metadata: Arc<TableMetadata>,
    pub file_io: FileIO,
}

/// How a commit or a load ended when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A requirement failed: the table moved on. Reload and try again.
    #[error("commit conflict: {0}")]
    Conflict(String),
    /// The commit may or may not have landed (a 5xx, a lost connection).
    #[error("commit outcome unknown: {0}")]
    Unknown(String),
    /// The table is gone.
    #[error("table not found: {0}")]
    NotFound(String),
    /// Anything else: the request was refused or the catalog cannot be reached.
    #[error("catalog: {0}")]
    Failed(String),
}

/// One table of a catalog.
#[async_trait]
pub trait TableCatalog: Send + Sync {
    /// The table's name, for reports.
    fn name(&self) -> String;
    async fn load(&self) -> Result<LoadedTable, CatalogError>;
    async fn commit(
        &self,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<(), CatalogError>;
}
