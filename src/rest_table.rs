//! One table of an Iceberg REST catalog as the compactor sees it: `TableCatalog` over
//! [`RestClient`], with the client's errors mapped to the compactor's (409 is a conflict,
//! an unknown outcome stays unknown).

use async_trait::async_trait;
use floe_compaction::catalog::{CatalogError, LoadedTable, TableCatalog};
use iceberg::{TableIdent, TableRequirement, TableUpdate};

use crate::rest_client::{RestClient, RestError};

/// A table of a REST catalog.
#[derive(Clone, Debug)]
pub struct RestTable {
    pub client: RestClient,
    pub ident: TableIdent,
}

impl From<RestError> for CatalogError {
    fn from(e: RestError) -> Self {
        match e {
            RestError::NotFound(m) => CatalogError::NotFound(m),
            RestError::Conflict(m) => CatalogError::Conflict(m),
            RestError::Unknown(m) => CatalogError::Unknown(m),
            other => CatalogError::Failed(other.to_string()),
        }
    }
}

#[async_trait]
impl TableCatalog for RestTable {
    fn name(&self) -> String {
        format!("{}.{}", self.ident.namespace().join("."), self.ident.name())
    }

    async fn load(&self) -> Result<LoadedTable, CatalogError> {
        let loaded = self.client.load_table(&self.ident).await?;
        let file_io = loaded.file_io()?;
        Ok(LoadedTable {
            metadata_location: Some(loaded.metadata_location),
            metadata: loaded.metadata,
            file_io,
        })
    }

    async fn commit(
        &self,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<(), CatalogError> {
        self.client
            .commit(&self.ident, &requirements, &updates)
            .await?;
        Ok(())
    }
}
