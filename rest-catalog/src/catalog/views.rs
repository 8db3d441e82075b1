//! View operations: create, load, list, exists, commit (the spec's "replace"), drop,
//! rename and register. A view is an entry of the store as a table is, so a name is
//! either a table's or a view's; its metadata files are written create-only and its
//! pointer moves under the same per-entry lock and compare-and-swap as a table's (on
//! ZooKeeper too). Dropping a view deletes no file.

use std::sync::Arc;

use bytes::Bytes;
use iceberg::spec::ViewMetadata;
use iceberg::{NamespaceIdent, TableIdent, ViewUpdate};
use tracing::info;
use uuid::Uuid;

use super::commits::nothing_written;
use super::{store_error, Catalog};
use crate::error::{CatalogError, Failure, Result};
use crate::names::validate_table;
use crate::store::{EntryKind, EntryRecord, PageRequest, PointerSwap, StoreError};
use crate::view_commit::{
    apply_view_commit, new_view_metadata, CreateViewRequest, RegisterViewRequest, ViewRequirement,
};
use crate::warehouse::canonical_location;

/// A view's metadata file: where it is, what it says, and its JSON text.
#[derive(Clone, Debug)]
pub struct ViewMetadataFile {
    /// Where the file is.
    pub location: String,
    /// What it says.
    pub metadata: Arc<ViewMetadata>,
    /// Its text.
    pub json: Bytes,
}

fn view_record(file: &ViewMetadataFile) -> EntryRecord {
    EntryRecord {
        metadata_location: file.location.clone(),
        uuid: file.metadata.uuid(),
        location: canonical_location(file.metadata.location()),
        kind: EntryKind::View,
    }
}

impl Catalog {
    /// Creates a view: its first metadata file, then its pointer.
    pub async fn create_view(
        &self,
        ns: &NamespaceIdent,
        request: CreateViewRequest,
    ) -> Result<ViewMetadataFile> {
        let ident = TableIdent::new(ns.clone(), request.name.clone());
        validate_table(&ident)?;
        self.load_namespace(ns).await?;
        self.check_name_free(&ident).await?;
        let uuid = Uuid::now_v7();
        let location = match &request.location {
            Some(l) => self.warehouse.normalize(l)?,
            None => self
                .warehouse
                .default_table_location(ns, &request.name, uuid),
        };
        self.check_location(&ident, &location).await?;
        let metadata = new_view_metadata(request, location, uuid)?;
        let file = self.write_view_metadata(metadata, None).await?;
        let swap = PointerSwap {
            ident: ident.clone(),
            expected: None,
            new: view_record(&file),
        };
        if let Err(e) = self.store.swap_pointers(&[swap]).await {
            return Err(self.settle_failed_create(&ident, &file.location, e).await);
        }
        info!(view = %ident, metadata_location = %file.location, "view created");
        Ok(file)
    }

    /// The view's current metadata file.
    pub async fn load_view(&self, ident: &TableIdent) -> Result<ViewMetadataFile> {
        validate_table(ident)?;
        let record = self.entry_record(ident, EntryKind::View).await?;
        self.read_view_metadata(&record.metadata_location)
            .await
            .map_err(|e| CatalogError::Storage(Failure::because(format!("view {ident}"), e)))
    }

    /// Whether the view exists.
    pub async fn view_exists(&self, ident: &TableIdent) -> Result<bool> {
        self.entry_exists(ident, EntryKind::View).await
    }

    /// The views of a namespace, a page at a time, and the next page's token.
    pub async fn list_views(
        &self,
        ns: &NamespaceIdent,
        page: &PageRequest,
    ) -> Result<(Vec<TableIdent>, Option<String>)> {
        self.list_entries(ns, EntryKind::View, page).await
    }

    /// Commits requirements and updates to a view under its lock: a new metadata file,
    /// then its pointer moved from the file the commit read. Updates that change nothing
    /// answer the current file.
    pub async fn commit_view(
        &self,
        ident: &TableIdent,
        requirements: Vec<ViewRequirement>,
        updates: Vec<ViewUpdate>,
    ) -> Result<ViewMetadataFile> {
        validate_table(ident)?;
        let first = self.entry_record(ident, EntryKind::View).await;
        let first = first.map_err(nothing_written)?;
        let key = first.uuid.to_string();
        let lock = self.locks.acquire(&key, self.lock_timeout).await;
        let guard = lock.map_err(|e| nothing_written(e.into()))?;
        let current = self.entry_record(ident, EntryKind::View).await;
        let current = current.map_err(nothing_written)?;
        let base = self.read_view_metadata(&current.metadata_location).await;
        let base = base.map_err(nothing_written)?;
        let Some(metadata) = apply_view_commit(&base.metadata, &requirements, updates)? else {
            return Ok(base);
        };
        if metadata.location() != base.metadata.location() {
            self.check_location(ident, metadata.location()).await?;
        }
        let file = self
            .write_view_metadata(metadata, Some(&current.metadata_location))
            .await?;
        let swap = PointerSwap {
            ident: ident.clone(),
            expected: Some(current.metadata_location),
            new: view_record(&file),
        };
        let written = [file.location.clone()];
        self.move_pointers(&[swap], &written, &[guard]).await?;
        info!(view = %ident, metadata_location = %file.location, "view committed");
        Ok(file)
    }

    /// Drops a view from the catalog; its files stay.
    pub async fn drop_view(&self, ident: &TableIdent) -> Result<()> {
        self.drop_entry(ident, EntryKind::View).await?;
        info!(view = %ident, "view dropped");
        Ok(())
    }

    /// Gives a view another name, in the same or another existing namespace.
    pub async fn rename_view(&self, from: &TableIdent, to: &TableIdent) -> Result<()> {
        self.rename_entry(from, to, EntryKind::View).await?;
        info!(from = %from, to = %to, "view renamed");
        Ok(())
    }

    /// Registers a view at an existing view metadata file inside the warehouse.
    pub async fn register_view(
        &self,
        ns: &NamespaceIdent,
        request: RegisterViewRequest,
    ) -> Result<ViewMetadataFile> {
        let ident = TableIdent::new(ns.clone(), request.name);
        validate_table(&ident)?;
        self.load_namespace(ns).await?;
        self.check_name_free(&ident).await?;
        let location = self.warehouse.normalize(&request.metadata_location)?;
        let file = self.read_view_metadata(&location).await?;
        self.check_location(&ident, file.metadata.location())
            .await?;
        match self
            .store
            .register_entry(&ident, view_record(&file), false)
            .await
        {
            Err(StoreError::NameTaken(_)) => return Err(self.name_taken(&ident).await),
            done => done.map_err(store_error)?,
        }
        info!(view = %ident, metadata_location = %location, "view registered");
        Ok(file)
    }

    /// Writes a view's next metadata file in `<location>/metadata`, after `previous`.
    async fn write_view_metadata(
        &self,
        metadata: ViewMetadata,
        previous: Option<&str>,
    ) -> Result<ViewMetadataFile> {
        let dir = format!(
            "{}/metadata",
            self.warehouse.normalize(metadata.location())?
        );
        let (location, json) = self.write_new_file(&dir, previous, &metadata).await?;
        Ok(ViewMetadataFile {
            location,
            metadata: Arc::new(metadata),
            json,
        })
    }

    /// Reads and parses a view metadata file inside the warehouse.
    async fn read_view_metadata(&self, location: &str) -> Result<ViewMetadataFile> {
        let json = self.warehouse.read(location).await?;
        let metadata: ViewMetadata = serde_json::from_slice(&json).map_err(|e| {
            CatalogError::BadRequest(Failure::because(
                format!("{location} is not valid view metadata"),
                e,
            ))
        })?;
        Ok(ViewMetadataFile {
            location: location.to_string(),
            metadata: Arc::new(metadata),
            json,
        })
    }
}
