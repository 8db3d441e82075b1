//! What the commit tests share: the embedded store with a fault injected into its next
//! pointer move (and a count of moves), a catalog over it with one table, and the metadata
//! files a warehouse holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use floe_locks::InProcessLockManager;
use iceberg::{NamespaceIdent, TableIdent, TableUpdate};
use iceberg_catalog_rest::CreateTableRequest;
use tempfile::TempDir;

use super::{Catalog, TableChange};
use crate::store::{
    CatalogStore, EmbeddedStore, EntryKind, EntryRecord, IdempotencyStore, KeyRecord, KeyState,
    PageRequest, PointerSwap, PropertyChanges, StoreError,
};
use crate::warehouse::Warehouse;
use uuid::Uuid;

/// How the next pointer move fails.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Fault {
    None,
    /// The move is not applied and the store cannot tell.
    UnknownNotApplied,
    /// The move is applied but its answer is lost.
    UnknownApplied,
    /// The move is refused: someone else moved the pointer.
    Moved,
}

/// The embedded store with a fault injected into the next `swap_pointers`.
pub(super) struct FaultyStore {
    inner: EmbeddedStore,
    /// How the next pointer move fails.
    pub fault: Mutex<Fault>,
    /// How many pointer moves were asked for.
    pub swaps: AtomicUsize,
}

#[async_trait]
impl IdempotencyStore for FaultyStore {
    async fn claim_key(&self, key: Uuid, f: &str, now: i64) -> Result<KeyState, StoreError> {
        self.inner.claim_key(key, f, now).await
    }
    async fn keep_answer(&self, key: Uuid, record: &KeyRecord) -> Result<(), StoreError> {
        self.inner.keep_answer(key, record).await
    }
    async fn release_key(&self, key: Uuid) -> Result<(), StoreError> {
        self.inner.release_key(key).await
    }
    async fn prune_keys(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.inner.prune_keys(before_ms).await
    }
}

#[async_trait]
impl CatalogStore for FaultyStore {
    async fn create_namespace(
        &self,
        ns: &NamespaceIdent,
        p: HashMap<String, String>,
    ) -> Result<(), StoreError> {
        self.inner.create_namespace(ns, p).await
    }
    async fn namespace_properties(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<Option<HashMap<String, String>>, StoreError> {
        self.inner.namespace_properties(ns).await
    }
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
        page: &PageRequest,
    ) -> Result<(Vec<NamespaceIdent>, Option<String>), StoreError> {
        self.inner.list_namespaces(parent, page).await
    }
    async fn update_namespace_properties(
        &self,
        ns: &NamespaceIdent,
        u: HashMap<String, String>,
        r: Vec<String>,
    ) -> Result<PropertyChanges, StoreError> {
        self.inner.update_namespace_properties(ns, u, r).await
    }
    async fn drop_namespace(&self, ns: &NamespaceIdent) -> Result<(), StoreError> {
        self.inner.drop_namespace(ns).await
    }
    async fn load_entry(&self, t: &TableIdent) -> Result<Option<EntryRecord>, StoreError> {
        self.inner.load_entry(t).await
    }
    async fn list_entries(
        &self,
        ns: &NamespaceIdent,
        kind: EntryKind,
        page: &PageRequest,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        self.inner.list_entries(ns, kind, page).await
    }
    async fn entry_locations(&self) -> Result<Vec<(TableIdent, String)>, StoreError> {
        self.inner.entry_locations().await
    }
    async fn swap_pointers(&self, swaps: &[PointerSwap]) -> Result<(), StoreError> {
        self.swaps.fetch_add(1, Ordering::SeqCst);
        let fault = std::mem::replace(&mut *self.fault.lock().unwrap(), Fault::None);
        match fault {
            Fault::None => self.inner.swap_pointers(swaps).await,
            Fault::UnknownNotApplied => Err(StoreError::OutcomeUnknown("injected".into())),
            Fault::UnknownApplied => {
                self.inner.swap_pointers(swaps).await?;
                Err(StoreError::OutcomeUnknown("injected: answer lost".into()))
            }
            Fault::Moved => Err(StoreError::PointerMoved {
                table: "injected".into(),
                expected: None,
                found: None,
            }),
        }
    }
    async fn register_entry(
        &self,
        t: &TableIdent,
        r: EntryRecord,
        o: bool,
    ) -> Result<(), StoreError> {
        self.inner.register_entry(t, r, o).await
    }
    async fn drop_entry(&self, t: &TableIdent, k: EntryKind) -> Result<EntryRecord, StoreError> {
        self.inner.drop_entry(t, k).await
    }
    async fn rename_entry(
        &self,
        f: &TableIdent,
        t: &TableIdent,
        k: EntryKind,
    ) -> Result<(), StoreError> {
        self.inner.rename_entry(f, t, k).await
    }
}

fn metadata_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".metadata.json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A catalog over a [`FaultyStore`] and a local warehouse in temporary directories, with
/// namespace `n` and an empty table `n.t`.
pub(super) struct Fixture {
    pub catalog: Catalog,
    pub store: Arc<FaultyStore>,
    /// The catalog's lock manager, for tests that hold a table's lock themselves.
    pub locks: Arc<InProcessLockManager>,
    /// `n.t`.
    pub ident: TableIdent,
    pub warehouse: TempDir,
    _data: TempDir,
}

impl Fixture {
    pub async fn new() -> Self {
        let warehouse = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let store = Arc::new(FaultyStore {
            inner: EmbeddedStore::open(data.path()).unwrap(),
            fault: Mutex::new(Fault::None),
            swaps: AtomicUsize::new(0),
        });
        let locks = Arc::new(InProcessLockManager::new());
        let catalog = Catalog::new(
            store.clone(),
            Warehouse::local(warehouse.path()).unwrap(),
            locks.clone(),
        );
        let ns = NamespaceIdent::new("n".into());
        catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
        catalog.create_table(&ns, table_t()).await.unwrap();
        let ident = TableIdent::new(ns, "t".into());
        Fixture {
            catalog,
            store,
            locks,
            ident,
            warehouse,
            _data: data,
        }
    }

    /// Drops `n.t` and creates a new table of that name (a new uuid).
    pub async fn replace_table(&self) {
        self.catalog.drop_table(&self.ident, false).await.unwrap();
        let ns = &self.ident.namespace;
        self.catalog.create_table(ns, table_t()).await.unwrap();
    }

    /// The table's pointer.
    pub async fn pointer(&self) -> String {
        let entry = self.store.load_entry(&self.ident).await.unwrap();
        entry.unwrap().metadata_location
    }

    /// The table's lock key (its uuid).
    pub async fn lock_key(&self) -> String {
        let entry = self.store.load_entry(&self.ident).await.unwrap();
        entry.unwrap().uuid.to_string()
    }

    /// A change without requirements that sets property `key`.
    pub fn set_property(&self, key: &str) -> TableChange {
        TableChange {
            ident: self.ident.clone(),
            requirements: vec![],
            updates: vec![TableUpdate::SetProperties {
                updates: HashMap::from([(key.to_string(), "v".to_string())]),
            }],
        }
    }

    /// The metadata files in the warehouse.
    pub fn metadata_files(&self) -> Vec<std::path::PathBuf> {
        metadata_files(self.warehouse.path())
    }
}

/// The create request of table `t`: one `id: long` column.
fn table_t() -> CreateTableRequest {
    table_named("t")
}

/// The create request of a table `name` of one `id: long` column.
pub(super) fn table_named(name: &str) -> CreateTableRequest {
    CreateTableRequest {
        name: name.into(),
        location: None,
        schema: floe_table::testing::id_schema(),
        partition_spec: None,
        write_order: None,
        stage_create: None,
        properties: HashMap::new(),
    }
}
