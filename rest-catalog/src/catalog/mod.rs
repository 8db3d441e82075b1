//! The catalog service core: namespaces, tables, views and the commit protocol, over a
//! `CatalogStore` (pointers), a `Warehouse` (files) and a `LockManager` (per-table commit
//! locks). The HTTP layer is a thin shell over this type; the rules it applies are the pure
//! functions in `commit`, `names` and `store`.

mod commits;
mod entries;
#[cfg(test)]
mod faulty_store;
mod group_commit;
mod tables;
mod views;

pub use commits::TableChange;
pub use tables::NewTable;
pub use views::ViewMetadataFile;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use floe_locks::LockManager;
use iceberg::spec::TableMetadata;
use iceberg::NamespaceIdent;

use crate::error::{CatalogError, Failure, Result};
use crate::names::validate_namespace;
use crate::observe::{NoTelemetry, Readiness, TableFigureBook, Telemetry};
use crate::store::{CatalogStore, PageRequest, PropertyChanges, StoreError};
use crate::warehouse::Warehouse;

/// How long a commit waits for its table lock before answering 409.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an idempotency key is kept (and advertised as `idempotency-key-lifetime`), as
/// the spec's example: 30 minutes.
pub const DEFAULT_IDEMPOTENCY_KEY_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// How long each readiness check waits for its answer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a readiness check failed: its error, or `timed_out()` when it gave no answer
/// within `READY_TIMEOUT`; `None` when it succeeded.
async fn probe<E: std::fmt::Display>(
    check: impl std::future::Future<Output = std::result::Result<(), E>>,
    timed_out: impl FnOnce() -> String,
) -> Option<String> {
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(timed_out()),
    }
}

/// How many tables' lock keys a node keeps.
const LOCK_KEYS_KEPT: u64 = 100_000;

/// How many bytes of parsed metadata files (counted as their JSON size) stay cached.
const METADATA_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// A metadata file: where it is, what it says, and its JSON text, which answers a load or
/// a commit as it is, without serializing the metadata again.
#[derive(Clone, Debug)]
pub struct MetadataFile {
    /// Where the file is.
    pub location: String,
    /// What it says.
    pub metadata: Arc<TableMetadata>,
    /// Its text.
    pub json: bytes::Bytes,
}

/// The catalog: one warehouse, its store and its locks.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn CatalogStore>,
    warehouse: Warehouse,
    locks: Arc<dyn LockManager>,
    lock_timeout: Duration,
    idempotency_key_lifetime: Duration,
    /// Parsed metadata files by location. Metadata files are written once under a name
    /// never used before and never changed, so an entry cannot go stale, on any node.
    metadata_cache: moka::sync::Cache<String, MetadataFile>,
    figures: TableFigureBook,
    telemetry: Arc<dyn Telemetry>,
    /// Single-table commits waiting for their table's next group.
    queues: Arc<group_commit::CommitQueues>,
    /// The lock key (uuid) of each table this node committed to, by name; checked under
    /// the lock, forgotten when found stale.
    lock_keys: moka::sync::Cache<iceberg::TableIdent, String>,
}

impl Catalog {
    /// The catalog of `warehouse`, its pointers in `store`, its commits serialized by
    /// `locks`; commits wait [`DEFAULT_LOCK_TIMEOUT`] for a lock, and nothing is reported.
    pub fn new(
        store: Arc<dyn CatalogStore>,
        warehouse: Warehouse,
        locks: Arc<dyn LockManager>,
    ) -> Self {
        let metadata_cache = moka::sync::Cache::builder()
            .max_capacity(METADATA_CACHE_BYTES)
            .weigher(|_: &String, v: &MetadataFile| u32::try_from(v.json.len()).unwrap_or(u32::MAX))
            .build();
        Self {
            store,
            warehouse,
            locks,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            idempotency_key_lifetime: DEFAULT_IDEMPOTENCY_KEY_LIFETIME,
            metadata_cache,
            figures: TableFigureBook::default(),
            telemetry: Arc::new(NoTelemetry),
            queues: Arc::default(),
            lock_keys: moka::sync::Cache::new(LOCK_KEYS_KEPT),
        }
    }

    /// The catalog, reporting what it does to `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Where the catalog reports what it does.
    pub fn telemetry(&self) -> &dyn Telemetry {
        self.telemetry.as_ref()
    }

    /// The latest figures of the tables this node committed or loaded, for `/metrics`.
    pub fn figures(&self) -> &TableFigureBook {
        &self.figures
    }

    /// Whether the store and the warehouse answer (within `READY_TIMEOUT`) and the lock
    /// session, if any, is connected. The three are asked at once.
    pub async fn readiness(&self) -> Readiness {
        let store = probe(self.store.ping(), || {
            format!("no answer within {READY_TIMEOUT:?}")
        });
        let warehouse = probe(self.warehouse.ping(), || {
            format!(
                "warehouse {} gave no answer within {READY_TIMEOUT:?}",
                self.warehouse.root()
            )
        });
        let session = async {
            tokio::time::timeout(READY_TIMEOUT, self.locks.session_connected())
                .await
                .unwrap_or(Some(false))
        };
        let (store_error, warehouse_error, zookeeper_connected) =
            tokio::join!(store, warehouse, session);
        Readiness {
            store_error,
            warehouse_error,
            zookeeper_connected,
        }
    }

    /// The catalog, its commits waiting at most `timeout` for a table's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Where the tables' files are.
    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// The catalog, keeping idempotency keys for `lifetime`.
    pub fn with_idempotency_key_lifetime(mut self, lifetime: Duration) -> Self {
        self.idempotency_key_lifetime = lifetime;
        self
    }

    /// How long idempotency keys are kept.
    pub fn idempotency_key_lifetime(&self) -> Duration {
        self.idempotency_key_lifetime
    }

    /// Forgets the idempotency keys older than their lifetime; answers how many. A node
    /// calls it every little while (any node may: the keys are the store's).
    pub async fn prune_idempotency_keys(&self) -> Result<usize> {
        let lifetime = i64::try_from(self.idempotency_key_lifetime.as_millis()).unwrap_or(i64::MAX);
        let before = now_ms().saturating_sub(lifetime);
        self.store.prune_keys(before).await.map_err(store_error)
    }

    pub(crate) fn store(&self) -> &dyn CatalogStore {
        self.store.as_ref()
    }

    /// Creates a namespace; its parent must exist. A missing parent is a bad request (the
    /// spec lists no 404 for this operation).
    pub async fn create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        validate_namespace(ns)?;
        match self.store.create_namespace(ns, properties).await {
            Err(StoreError::NoSuchNamespace(parent)) => Err(CatalogError::bad_request(format!(
                "cannot create namespace {ns}: its parent {parent} does not exist"
            ))),
            done => done.map_err(|e| namespace_error(ns, e)),
        }
    }

    /// A namespace's properties.
    pub async fn load_namespace(&self, ns: &NamespaceIdent) -> Result<HashMap<String, String>> {
        validate_namespace(ns)?;
        self.store
            .namespace_properties(ns)
            .await
            .map_err(|e| namespace_error(ns, e))?
            .ok_or_else(|| CatalogError::NoSuchNamespace(ns.to_string()))
    }

    /// The children of `parent` (the top-level namespaces without one), a page at a
    /// time, and the next page's token.
    pub async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
        page: &PageRequest,
    ) -> Result<(Vec<NamespaceIdent>, Option<String>)> {
        if let Some(p) = parent {
            validate_namespace(p)?;
        }
        self.store
            .list_namespaces(parent, page)
            .await
            .map_err(store_error)
    }

    /// Removes `removals` from a namespace's properties and sets `updates`; a key may not
    /// be in both.
    pub async fn update_namespace_properties(
        &self,
        ns: &NamespaceIdent,
        updates: HashMap<String, String>,
        removals: Vec<String>,
    ) -> Result<PropertyChanges> {
        validate_namespace(ns)?;
        if let Some(key) = removals.iter().find(|k| updates.contains_key(*k)) {
            return Err(CatalogError::Unprocessable(format!(
                "property {key:?} is both updated and removed"
            )));
        }
        self.store
            .update_namespace_properties(ns, updates, removals)
            .await
            .map_err(|e| namespace_error(ns, e))
    }

    /// Drops an empty namespace.
    pub async fn drop_namespace(&self, ns: &NamespaceIdent) -> Result<()> {
        validate_namespace(ns)?;
        self.store
            .drop_namespace(ns)
            .await
            .map_err(|e| namespace_error(ns, e))
    }
}

fn namespace_error(ns: &NamespaceIdent, e: StoreError) -> CatalogError {
    match e {
        StoreError::NamespaceExists => CatalogError::NamespaceAlreadyExists(ns.to_string()),
        StoreError::NamespaceNotEmpty => CatalogError::NamespaceNotEmpty(ns.to_string()),
        e => store_error(e),
    }
}

/// Maps a store error outside a commit's pointer move.
pub(crate) fn store_error(e: StoreError) -> CatalogError {
    match e {
        StoreError::NoSuchNamespace(ns) => CatalogError::NoSuchNamespace(ns),
        StoreError::NoSuchEntry(t) => CatalogError::NoSuchTable(t),
        StoreError::NameTaken(t) => CatalogError::already_exists(None, t),
        StoreError::NamespaceExists => CatalogError::NamespaceAlreadyExists(e.to_string()),
        StoreError::NamespaceNotEmpty => CatalogError::NamespaceNotEmpty(e.to_string()),
        StoreError::BadPageToken(_) => CatalogError::bad_request(e.to_string()),
        StoreError::PointerMoved { .. } => CatalogError::CommitFailed(Failure::of(e)),
        StoreError::Failed(m) => CatalogError::Storage(m),
        StoreError::Unavailable(m) => CatalogError::Unavailable(m),
        StoreError::OutcomeUnknown(m) => CatalogError::CommitStateUnknown(m),
    }
}
