//! The table layer's `TableCatalog` over the node's own catalog, in process: what
//! scheduled compaction and snapshot expiry load and commit through. It takes no HTTP
//! round trip (so it works whatever address the node listens on) and no token, and its
//! commits take the catalog's one commit path, locks included, as any client's do.

use async_trait::async_trait;
use floe_rest_catalog::{Catalog, MetadataFile, TableChange};
use floe_table::storage::{file_io_for, ObjectStoreStorageFactory};
use floe_table::{LoadedTable, TableCatalog, TableCommit};
use iceberg::TableIdent;

/// The node's catalog, with the node's own storage settings for the tables' files.
#[derive(Clone)]
pub struct NodeCatalog {
    catalog: Catalog,
    /// The node's `[s3]` settings, kept inside the warehouse.
    storage: ObjectStoreStorageFactory,
}

impl NodeCatalog {
    /// `catalog`'s tables, their files reached with `storage`.
    pub fn new(catalog: Catalog, storage: ObjectStoreStorageFactory) -> Self {
        Self { catalog, storage }
    }

    fn loaded(&self, ident: &TableIdent, file: MetadataFile) -> floe_table::Result<LoadedTable> {
        let file_io = file_io_for(
            file.metadata.location(),
            self.catalog.warehouse().client_config(),
            &self.storage,
        )?;
        Ok(LoadedTable {
            ident: ident.clone(),
            metadata_location: file.location,
            metadata: file.metadata,
            file_io,
        })
    }
}

#[async_trait]
impl TableCatalog for NodeCatalog {
    async fn load_table(&self, ident: &TableIdent) -> floe_table::Result<LoadedTable> {
        let file = self.catalog.load_table(ident).await?;
        self.loaded(ident, file)
    }

    async fn commit_table(
        &self,
        ident: &TableIdent,
        commit: TableCommit,
    ) -> floe_table::Result<LoadedTable> {
        let change = TableChange {
            ident: ident.clone(),
            requirements: commit.requirements,
            updates: commit.updates,
        };
        let file = self.catalog.commit_table(change).await?;
        self.loaded(ident, file)
    }
}
