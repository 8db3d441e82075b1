//! Table operations other than commits: create (direct or staged), load, list, drop
//! (with purge), rename and register.

use std::sync::Arc;

use bytes::Bytes;
use floe_table::properties::{FORMAT_VERSION, LOCATION_PROPERTIES, METADATA_PATH};
use iceberg::spec::{
    FormatVersion, SortOrder, TableMetadata, TableMetadataBuilder, UnboundPartitionSpec,
};
use iceberg::{NamespaceIdent, TableIdent};
use iceberg_catalog_rest::{CreateTableRequest, RegisterTableRequest};
use tracing::{info, warn};
use uuid::Uuid;

use super::{store_error, Catalog, MetadataFile};
use crate::commit::next_metadata_file_name;
use crate::error::{CatalogError, Failure, Result};
use crate::names::validate_table;
use crate::store::{EntryKind, EntryRecord, PageRequest, PointerSwap, StoreError};
use crate::warehouse::{canonical_location, locations_overlap};

/// What a create request made.
#[derive(Clone, Debug)]
pub enum NewTable {
    /// The table exists: its first metadata file.
    Created(MetadataFile),
    /// `stage-create`: the metadata the table would have; nothing was written, and a later
    /// commit with `assert-create` creates it.
    Staged(Box<TableMetadata>),
}

impl Catalog {
    /// Creates a table, or with `stage-create` only answers the metadata it would have.
    pub async fn create_table(
        &self,
        ns: &NamespaceIdent,
        request: CreateTableRequest,
    ) -> Result<NewTable> {
        let ident = TableIdent::new(ns.clone(), request.name.clone());
        validate_table(&ident)?;
        self.load_namespace(ns).await?;
        self.check_name_free(&ident).await?;
        let metadata = self.new_table_metadata(&ident, request.clone())?;
        self.check_table_locations(&ident, &metadata).await?;
        if request.stage_create == Some(true) {
            self.warehouse.prepare_metadata_dir(metadata.location())?;
            return Ok(NewTable::Staged(Box::new(metadata)));
        }
        let file = self.write_metadata(Arc::new(metadata), None).await?;
        let metadata_location = file.location.clone();
        let swap = PointerSwap {
            ident: ident.clone(),
            expected: None,
            new: record(&metadata_location, &file.metadata),
        };
        if let Err(e) = self.store.swap_pointers(&[swap]).await {
            return Err(self
                .settle_failed_create(&ident, &metadata_location, e)
                .await);
        }
        info!(table = %ident, %metadata_location, "table created");
        Ok(NewTable::Created(file))
    }

    /// Builds the first metadata of a table from a create request.
    fn new_table_metadata(
        &self,
        ident: &TableIdent,
        request: CreateTableRequest,
    ) -> Result<TableMetadata> {
        let mut properties = request.properties;
        let format_version = match properties.remove(FORMAT_VERSION) {
            None => FormatVersion::V2,
            Some(v) => parse_format_version(&v)?,
        };
        let uuid = Uuid::now_v7();
        let location = match &request.location {
            Some(l) => self.warehouse.normalize(l)?,
            None => self
                .warehouse
                .default_table_location(&ident.namespace, &ident.name, uuid),
        };
        let spec = request
            .partition_spec
            .unwrap_or_else(|| UnboundPartitionSpec::builder().build());
        let order = request
            .write_order
            .unwrap_or_else(SortOrder::unsorted_order);
        TableMetadataBuilder::new(
            request.schema,
            spec,
            order,
            location,
            format_version,
            properties,
        )
        .and_then(|b| b.assign_uuid(uuid).build())
        .map(|r| r.metadata)
        .map_err(|e| CatalogError::BadRequest(Failure::because("invalid table", e)))
    }

    /// Refuses metadata whose location or location properties leave the warehouse, or whose
    /// location overlaps another table's or view's (a purge of one would delete the
    /// other's files).
    pub(crate) async fn check_table_locations(
        &self,
        ident: &TableIdent,
        metadata: &TableMetadata,
    ) -> Result<()> {
        for key in LOCATION_PROPERTIES {
            if let Some(value) = metadata.properties().get(*key) {
                self.warehouse.normalize(value).map_err(|e| {
                    CatalogError::BadRequest(Failure::because(format!("table property {key}"), e))
                })?;
            }
        }
        self.check_location(ident, metadata.location()).await
    }

    /// Refuses a location outside the warehouse or overlapping the location of another
    /// table or view than `ident`.
    pub(crate) async fn check_location(&self, ident: &TableIdent, location: &str) -> Result<()> {
        let location = self.warehouse.normalize(location)?;
        let others = self.store.entry_locations().await.map_err(store_error)?;
        if let Some((other, _)) = others
            .iter()
            .find(|(other, loc)| other != ident && locations_overlap(loc, &location))
        {
            // The caller may have no grant on the other entry: the answer does not name
            // it; the operator's log does.
            tracing::info!(table = %ident, location, overlaps = %other, "location refused: it overlaps another entry's");
            return Err(CatalogError::bad_request(format!(
                "location {location:?} overlaps the location of another table or view"
            )));
        }
        Ok(())
    }

    /// Writes a new metadata file next to `previous` (or as version 0). The name is new,
    /// so no existing file is ever replaced.
    pub(crate) async fn write_metadata(
        &self,
        metadata: Arc<TableMetadata>,
        previous: Option<&str>,
    ) -> Result<MetadataFile> {
        let dir = match metadata.properties().get(METADATA_PATH) {
            Some(path) => self.warehouse.normalize(path)?,
            None => format!(
                "{}/metadata",
                self.warehouse.normalize(metadata.location())?
            ),
        };
        let (location, json) = self
            .write_new_file(&dir, previous, metadata.as_ref())
            .await?;
        Ok(self.cached(MetadataFile {
            location,
            metadata,
            json,
        }))
    }

    /// Writes `metadata` as JSON to the next metadata file name in `dir` after `previous`;
    /// answers where, and the text.
    pub(crate) async fn write_new_file(
        &self,
        dir: &str,
        previous: Option<&str>,
        metadata: &impl serde::Serialize,
    ) -> Result<(String, Bytes)> {
        let location = format!("{dir}/{}", next_metadata_file_name(previous));
        let json = serde_json::to_vec(metadata)
            .map_err(|e| CatalogError::Storage(Failure::because("cannot serialize metadata", e)))?;
        let json = Bytes::from(json);
        self.warehouse.put_new(&location, json.clone()).await?;
        Ok((location, json))
    }

    /// Reads and parses a metadata file inside the warehouse (or takes it from the cache).
    pub(crate) async fn read_metadata(&self, location: &str) -> Result<MetadataFile> {
        if let Some(hit) = self.metadata_cache.get(location) {
            return Ok(hit);
        }
        let json = self.warehouse.read(location).await?;
        let metadata: TableMetadata = serde_json::from_slice(&json).map_err(|e| {
            CatalogError::BadRequest(Failure::because(
                format!("{location} is not valid table metadata"),
                e,
            ))
        })?;
        Ok(self.cached(MetadataFile {
            location: location.to_string(),
            metadata: Arc::new(metadata),
            json,
        }))
    }

    /// Puts a metadata file just written or read into the cache.
    fn cached(&self, file: MetadataFile) -> MetadataFile {
        self.metadata_cache
            .insert(file.location.clone(), file.clone());
        file
    }

    /// A create's pointer move failed: the pointer was certainly not set unless the
    /// outcome is unknown, in which case the file is kept.
    pub(crate) async fn settle_failed_create(
        &self,
        ident: &TableIdent,
        metadata_location: &str,
        e: StoreError,
    ) -> CatalogError {
        if !matches!(e, StoreError::OutcomeUnknown(_)) {
            self.delete_quietly(metadata_location).await;
        }
        match e {
            StoreError::NameTaken(_) => self.name_taken(ident).await,
            e => store_error(e),
        }
    }

    pub(crate) async fn delete_quietly(&self, location: &str) {
        if let Err(e) = self.warehouse.delete(location).await {
            warn!(%location, error = %e, "could not delete an unreferenced metadata file");
        }
    }

    /// The table's current metadata file.
    pub async fn load_table(&self, ident: &TableIdent) -> Result<MetadataFile> {
        validate_table(ident)?;
        let record = self.entry_record(ident, EntryKind::Table).await?;
        let file = self
            .read_metadata(&record.metadata_location)
            .await
            .map_err(|e| CatalogError::Storage(Failure::because(format!("table {ident}"), e)))?;
        self.figures.record(&ident.to_string(), &file.metadata);
        Ok(file)
    }

    /// Whether the table exists.
    pub async fn table_exists(&self, ident: &TableIdent) -> Result<bool> {
        self.entry_exists(ident, EntryKind::Table).await
    }

    /// The tables of a namespace, a page at a time, and the next page's token.
    pub async fn list_tables(
        &self,
        ns: &NamespaceIdent,
        page: &PageRequest,
    ) -> Result<(Vec<TableIdent>, Option<String>)> {
        self.list_entries(ns, EntryKind::Table, page).await
    }

    /// Drops a table. With `purge`, deletes every file under its location too.
    pub async fn drop_table(&self, ident: &TableIdent, purge: bool) -> Result<()> {
        let dropped = self.drop_entry(ident, EntryKind::Table).await?;
        self.figures.forget(&ident.to_string());
        info!(table = %ident, purge, "table dropped");
        if purge {
            let deleted = self.warehouse.delete_prefix(&dropped.location).await?;
            info!(table = %ident, files = deleted, "table purged");
        }
        Ok(())
    }

    /// Gives a table another name, in the same or another existing namespace.
    pub async fn rename_table(&self, from: &TableIdent, to: &TableIdent) -> Result<()> {
        self.rename_entry(from, to, EntryKind::Table).await?;
        self.figures.forget(&from.to_string());
        info!(from = %from, to = %to, "table renamed");
        Ok(())
    }

    /// Registers a table at an existing metadata file inside the warehouse.
    pub async fn register_table(
        &self,
        ns: &NamespaceIdent,
        request: RegisterTableRequest,
    ) -> Result<MetadataFile> {
        let ident = TableIdent::new(ns.clone(), request.name.clone());
        validate_table(&ident)?;
        self.load_namespace(ns).await?;
        let metadata_location = self.warehouse.normalize(&request.metadata_location)?;
        let file = self.read_metadata(&metadata_location).await?;
        let metadata = &file.metadata;
        self.check_table_locations(&ident, metadata).await?;
        let overwrite = request.overwrite.unwrap_or(false);
        let entry = record(&metadata_location, metadata);
        match self.store.register_entry(&ident, entry, overwrite).await {
            Err(StoreError::NameTaken(_)) => return Err(self.name_taken(&ident).await),
            done => done.map_err(store_error)?,
        }
        info!(table = %ident, %metadata_location, "table registered");
        Ok(file)
    }
}

pub(crate) fn record(metadata_location: &str, metadata: &TableMetadata) -> EntryRecord {
    EntryRecord {
        metadata_location: metadata_location.to_string(),
        uuid: metadata.uuid(),
        location: canonical_location(metadata.location()),
        kind: EntryKind::Table,
    }
}

fn parse_format_version(value: &str) -> Result<FormatVersion> {
    let n: u8 = value.parse().map_err(|_| {
        CatalogError::bad_request(format!(
            "invalid format-version {value:?}: expected 1, 2 or 3"
        ))
    })?;
    serde_json::from_value(serde_json::json!(n))
        .map_err(|_| CatalogError::bad_request(format!("unsupported format-version {n}")))
}
