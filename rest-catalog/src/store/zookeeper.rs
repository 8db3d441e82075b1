//! The catalog store on ZooKeeper, for several `floe serve` nodes sharing one warehouse.
//! Layout under the root (default `/floe`):
//! - `catalog/namespaces/<ns>`: a namespace, data = JSON properties; `<ns>` is the levels,
//!   each percent-encoded, joined by `.` (levels never contain `.`).
//! - `catalog/tables/<ns>/<name>`: a table's or a view's pointer, data = JSON
//!   `EntryRecord`; tables and views share these names, so a name is taken once.
//! - `catalog/views/<ns>/<view>`: an empty marker beside each view's pointer, created and
//!   removed in the same `multi` as the pointer, so listing a namespace's tables or views
//!   reads two child lists instead of every entry. `views/<ns>` is made with the first
//!   view of a namespace.
//! - `catalog/idempotency-keys/<uuid>`: an idempotency key (see `zookeeper_keys.rs`).
//!
//! Every change is one conditional write or one `multi`: a pointer moves by `setData` on the
//! version read (the lock serializes, the version proves it), a multi-table commit is one
//! `multi`. A creating child namespace rewrites its parent at the version read, so a
//! concurrent drop of the parent fails instead of orphaning the child. A write that loses
//! its connection reports `OutcomeUnknown`; `load_table_fresh` syncs before reading so the
//! catalog can settle it.
//!
//! Every request goes to the node's shared [`ZooKeeperSession`] (also its lock managers'),
//! which opens a new session once the current one has ended.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use floe_locks::{LockError, ZooKeeperSession};
use iceberg::{NamespaceIdent, TableIdent};
use zookeeper_client::{
    Acls, Client, CreateMode, CreateOptions, Error as ZkError, MultiWriteError,
};

use super::pointer_versions::PointerVersions;
use super::znode_names::{encode, namespace_from_node, namespace_node};
use super::{
    apply_property_changes, paginate, CatalogStore, EntryKind, EntryRecord, Failure, PageRequest,
    PointerSwap, PropertyChanges, StoreError,
};
use crate::names::namespace_key;

#[path = "zookeeper_keys.rs"]
mod keys;
#[path = "zookeeper_swap.rs"]
mod swap;
#[path = "zookeeper_views.rs"]
mod views;

const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
/// How often a change retries after a concurrent change of what it read.
const VERSION_RETRIES: usize = 8;

/// The catalog store in a ZooKeeper ensemble.
pub struct ZooKeeperStore {
    session: Arc<ZooKeeperSession>,
    namespaces: String,
    tables: String,
    views: String,
    keys: String,
    versions: PointerVersions,
}

/// No live session could be had (none could be opened, or it is closed for good): nothing
/// was sent.
fn session_error(e: LockError) -> StoreError {
    StoreError::Failed(match e {
        LockError::Unavailable(why) => Failure::of(why),
        e => Failure::of(e),
    })
}

/// A read failed: nothing changed, the store is unreachable or refused.
fn read_error(e: ZkError) -> StoreError {
    StoreError::Unavailable(Failure::because("zookeeper", e))
}

/// A write failed: certain for the errors ZooKeeper returns after deciding, unknown for
/// the connection and session errors that hide whether the write was applied.
fn write_error(e: ZkError) -> StoreError {
    match e {
        ZkError::NoAuth
        | ZkError::InvalidAcl
        | ZkError::BadArguments(_)
        | ZkError::NoChildrenForEphemerals
        | ZkError::QuotaExceeded
        | ZkError::Throttled
        | ZkError::NotReadOnly => StoreError::Failed(Failure::because("zookeeper", e)),
        e => StoreError::OutcomeUnknown(Failure::because("zookeeper", e)),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("store values always serialize")
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Failed(Failure::because("corrupt znode", e)))
}

impl ZooKeeperStore {
    /// Keeps the catalog under `root` on `session` (the node's, shared with its lock
    /// managers), creating the layout when missing.
    pub async fn new(session: Arc<ZooKeeperSession>, root: &str) -> Result<Self, StoreError> {
        let root = root.trim_end_matches('/');
        let store = Self {
            session,
            namespaces: format!("{root}/catalog/namespaces"),
            tables: format!("{root}/catalog/tables"),
            views: format!("{root}/catalog/views"),
            keys: format!("{root}/catalog/idempotency-keys"),
            versions: PointerVersions::default(),
        };
        let catalog = format!("{root}/catalog");
        let layout = [
            root,
            catalog.as_str(),
            &store.namespaces,
            &store.tables,
            &store.views,
            &store.keys,
        ];
        for path in layout {
            match store.client().await?.create(path, b"", &PERSISTENT).await {
                Ok(_) | Err(ZkError::NodeExists) => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(store)
    }

    /// The live session's client, for the next request: a new session once the current one
    /// has ended (the writes of an ended session have all landed or never will).
    async fn client(&self) -> Result<Client, StoreError> {
        self.session.client().await.map_err(session_error)
    }

    fn namespace_path(&self, ns: &NamespaceIdent) -> String {
        format!("{}/{}", self.namespaces, namespace_node(ns))
    }

    fn tables_path(&self, ns: &NamespaceIdent) -> String {
        format!("{}/{}", self.tables, namespace_node(ns))
    }

    fn table_path(&self, ident: &TableIdent) -> String {
        format!(
            "{}/{}",
            self.tables_path(&ident.namespace),
            encode(&ident.name)
        )
    }

    /// A node's data and version, `None` when it does not exist.
    async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, i32)>, StoreError> {
        match self.client().await?.get_data(path).await {
            Ok((data, stat)) => Ok(Some((data, stat.version))),
            Err(ZkError::NoNode) => Ok(None),
            Err(e) => Err(read_error(e)),
        }
    }

    async fn get_record(
        &self,
        ident: &TableIdent,
    ) -> Result<Option<(EntryRecord, i32)>, StoreError> {
        let path = self.table_path(ident);
        let Some((data, version)) = self.get(&path).await? else {
            return Ok(None);
        };
        let record: EntryRecord = from_json(&data)?;
        self.versions.saw(&path, &record.metadata_location, version);
        Ok(Some((record, version)))
    }

    async fn all_namespaces(&self) -> Result<Vec<NamespaceIdent>, StoreError> {
        let nodes = self
            .client()
            .await?
            .list_children(&self.namespaces)
            .await
            .map_err(read_error)?;
        nodes.iter().map(|n| namespace_from_node(n)).collect()
    }

    async fn require_namespace(&self, ns: &NamespaceIdent) -> Result<(), StoreError> {
        match self.get(&self.namespace_path(ns)).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NoSuchNamespace(ns.to_string())),
        }
    }
}

/// The error of operation `index` of a multi, or of the whole request.
fn multi_error(e: MultiWriteError) -> (Option<usize>, ZkError) {
    match e {
        MultiWriteError::OperationFailed { index, source } => (Some(index), source),
        MultiWriteError::RequestFailed { source } => (None, source),
    }
}

#[async_trait]
impl CatalogStore for ZooKeeperStore {
    async fn create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<(), StoreError> {
        for _ in 0..VERSION_RETRIES {
            let client = self.client().await?;
            let mut multi = client.new_multi_writer();
            let mut offset = 0;
            if let Some(parent) = ns.parent() {
                let path = self.namespace_path(&parent);
                let Some((data, version)) = self.get(&path).await? else {
                    return Err(StoreError::NoSuchNamespace(parent.to_string()));
                };
                multi
                    .add_set_data(&path, &data, Some(version))
                    .map_err(read_error)?;
                offset = 1;
            }
            multi
                .add_create(&self.namespace_path(ns), &to_json(&properties), &PERSISTENT)
                .map_err(read_error)?;
            multi
                .add_create(&self.tables_path(ns), b"", &PERSISTENT)
                .map_err(read_error)?;
            match multi.commit().await.map_err(multi_error) {
                Ok(_) => return Ok(()),
                Err((_, ZkError::NodeExists)) => return Err(StoreError::NamespaceExists),
                Err((Some(i), ZkError::BadVersion | ZkError::NoNode)) if i < offset => continue,
                Err((_, e)) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed(
            "namespace kept changing; try again".into(),
        ))
    }

    async fn namespace_properties(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<Option<HashMap<String, String>>, StoreError> {
        match self.get(&self.namespace_path(ns)).await? {
            Some((data, _)) => Ok(Some(from_json(&data)?)),
            None => Ok(None),
        }
    }

    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
        page: &PageRequest,
    ) -> Result<(Vec<NamespaceIdent>, Option<String>), StoreError> {
        if let Some(p) = parent {
            self.require_namespace(p).await?;
        }
        let children: BTreeMap<String, NamespaceIdent> = self
            .all_namespaces()
            .await?
            .into_iter()
            .filter(|ns| ns.parent().as_ref() == parent)
            .map(|ns| (namespace_key(&ns), ns))
            .collect();
        paginate(children, page)
    }

    async fn update_namespace_properties(
        &self,
        ns: &NamespaceIdent,
        updates: HashMap<String, String>,
        removals: Vec<String>,
    ) -> Result<PropertyChanges, StoreError> {
        let path = self.namespace_path(ns);
        for _ in 0..VERSION_RETRIES {
            let Some((data, version)) = self.get(&path).await? else {
                return Err(StoreError::NoSuchNamespace(ns.to_string()));
            };
            let mut properties: HashMap<String, String> = from_json(&data)?;
            let changes =
                apply_property_changes(&mut properties, updates.clone(), removals.clone());
            match self
                .client()
                .await?
                .set_data(&path, &to_json(&properties), Some(version))
                .await
            {
                Ok(_) => return Ok(changes),
                Err(ZkError::BadVersion) => continue,
                Err(ZkError::NoNode) => return Err(StoreError::NoSuchNamespace(ns.to_string())),
                Err(e) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed(
            "namespace kept changing; try again".into(),
        ))
    }

    async fn drop_namespace(&self, ns: &NamespaceIdent) -> Result<(), StoreError> {
        let path = self.namespace_path(ns);
        for _ in 0..VERSION_RETRIES {
            let Some((_, version)) = self.get(&path).await? else {
                return Err(StoreError::NoSuchNamespace(ns.to_string()));
            };
            let has_children = self
                .all_namespaces()
                .await?
                .iter()
                .any(|c| c.parent().as_ref() == Some(ns));
            let tables = self
                .client()
                .await?
                .list_children(&self.tables_path(ns))
                .await
                .map_err(read_error)?;
            if has_children || !tables.is_empty() {
                return Err(StoreError::NamespaceNotEmpty);
            }
            let views = self.views_path(ns);
            let has_views_dir = self.get(&views).await?.is_some();
            let client = self.client().await?;
            let mut multi = client.new_multi_writer();
            multi
                .add_delete(&self.tables_path(ns), None)
                .map_err(read_error)?;
            if has_views_dir {
                multi.add_delete(&views, None).map_err(read_error)?;
            }
            multi.add_delete(&path, Some(version)).map_err(read_error)?;
            match multi.commit().await.map_err(multi_error) {
                Ok(_) => return Ok(()),
                Err((_, ZkError::NotEmpty)) => return Err(StoreError::NamespaceNotEmpty),
                // A child was created or the properties changed since the read: look again.
                Err((_, ZkError::BadVersion)) => continue,
                Err((_, ZkError::NoNode)) => {
                    return Err(StoreError::NoSuchNamespace(ns.to_string()))
                }
                Err((_, e)) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed(
            "namespace kept changing; try again".into(),
        ))
    }

    async fn load_entry(&self, ident: &TableIdent) -> Result<Option<EntryRecord>, StoreError> {
        Ok(self.get_record(ident).await?.map(|(r, _)| r))
    }

    async fn load_entry_fresh(
        &self,
        ident: &TableIdent,
    ) -> Result<Option<EntryRecord>, StoreError> {
        // sync makes this read see every write the ensemble has applied, including one
        // whose answer this client lost.
        self.client()
            .await?
            .sync(&self.tables)
            .await
            .map_err(read_error)?;
        self.load_entry(ident).await
    }

    async fn list_entries(
        &self,
        ns: &NamespaceIdent,
        kind: EntryKind,
        page: &PageRequest,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let (names, views) = self.names_and_views(ns).await?;
        let listed = names
            .into_iter()
            .filter(|name| views.contains(name) == (kind == EntryKind::View))
            .map(|name| (name.clone(), name))
            .collect();
        paginate(listed, page)
    }

    async fn entry_locations(&self) -> Result<Vec<(TableIdent, String)>, StoreError> {
        let mut out = Vec::new();
        for ns in self.all_namespaces().await? {
            let names = self.child_names(&self.tables_path(&ns)).await?;
            for name in names.into_iter().flatten() {
                let ident = TableIdent::new(ns.clone(), name);
                if let Some((record, _)) = self.get_record(&ident).await? {
                    out.push((ident, record.location));
                }
            }
        }
        Ok(out)
    }

    async fn swap_pointers(&self, swaps: &[PointerSwap]) -> Result<(), StoreError> {
        self.swap(swaps).await
    }

    async fn register_entry(
        &self,
        ident: &TableIdent,
        record: EntryRecord,
        overwrite: bool,
    ) -> Result<(), StoreError> {
        self.require_namespace(&ident.namespace).await?;
        let path = self.table_path(ident);
        let data = to_json(&record);
        if overwrite {
            if let Some((found, version)) = self.get_record(ident).await? {
                if found.kind != record.kind {
                    return Err(StoreError::NameTaken(ident.to_string()));
                }
                // The version alone cannot tell the entry read from one dropped and
                // created again since (a new znode starts at version 0 too): the marker
                // created and deleted in the same multi proves the name is no view's.
                self.ensure_views_dir(&ident.namespace).await?;
                let client = self.client().await?;
                let mut multi = client.new_multi_writer();
                multi
                    .add_set_data(&path, &data, Some(version))
                    .map_err(read_error)?;
                if record.kind == EntryKind::Table {
                    let marker = self.view_marker(ident);
                    multi
                        .add_create(&marker, b"", &PERSISTENT)
                        .map_err(read_error)?;
                    multi.add_delete(&marker, None).map_err(read_error)?;
                }
                return match multi.commit().await.map_err(multi_error) {
                    Ok(_) => Ok(()),
                    Err((_, ZkError::NodeExists)) => Err(StoreError::NameTaken(ident.to_string())),
                    Err((_, ZkError::BadVersion | ZkError::NoNode)) => {
                        Err(StoreError::PointerMoved {
                            table: ident.to_string(),
                            expected: Some(found.metadata_location),
                            found: None,
                        })
                    }
                    Err((_, e)) => Err(write_error(e)),
                };
            }
        }
        if record.kind == EntryKind::View {
            self.ensure_views_dir(&ident.namespace).await?;
        }
        let client = self.client().await?;
        let mut multi = client.new_multi_writer();
        multi
            .add_create(&path, &data, &PERSISTENT)
            .map_err(read_error)?;
        if record.kind == EntryKind::View {
            let marker = self.view_marker(ident);
            multi
                .add_create(&marker, b"", &PERSISTENT)
                .map_err(read_error)?;
        }
        match multi.commit().await.map_err(multi_error) {
            Ok(_) => Ok(()),
            Err((_, ZkError::NodeExists)) => Err(StoreError::NameTaken(ident.to_string())),
            Err((_, ZkError::NoNode)) => {
                Err(StoreError::NoSuchNamespace(ident.namespace.to_string()))
            }
            Err((_, e)) => Err(write_error(e)),
        }
    }

    async fn drop_entry(
        &self,
        ident: &TableIdent,
        kind: EntryKind,
    ) -> Result<EntryRecord, StoreError> {
        for _ in 0..VERSION_RETRIES {
            let Some((record, version)) = self.get_record(ident).await? else {
                return Err(StoreError::NoSuchEntry(ident.to_string()));
            };
            if record.kind != kind {
                return Err(StoreError::NoSuchEntry(ident.to_string()));
            }
            let client = self.client().await?;
            let mut multi = client.new_multi_writer();
            multi
                .add_delete(&self.table_path(ident), Some(version))
                .map_err(read_error)?;
            if kind == EntryKind::View {
                multi
                    .add_delete(&self.view_marker(ident), None)
                    .map_err(read_error)?;
            }
            match multi.commit().await.map_err(multi_error) {
                Ok(_) => return Ok(record),
                Err((_, ZkError::BadVersion)) => continue,
                Err((_, ZkError::NoNode)) => {
                    return Err(StoreError::NoSuchEntry(ident.to_string()))
                }
                Err((_, e)) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed(
            format!("{kind} kept changing; try again").into(),
        ))
    }

    async fn rename_entry(
        &self,
        from: &TableIdent,
        to: &TableIdent,
        kind: EntryKind,
    ) -> Result<(), StoreError> {
        let Some((record, version)) = self.get_record(from).await? else {
            return Err(StoreError::NoSuchEntry(from.to_string()));
        };
        if record.kind != kind {
            return Err(StoreError::NoSuchEntry(from.to_string()));
        }
        self.require_namespace(&to.namespace).await?;
        if kind == EntryKind::View {
            self.ensure_views_dir(&to.namespace).await?;
        }
        let client = self.client().await?;
        let mut multi = client.new_multi_writer();
        multi
            .add_delete(&self.table_path(from), Some(version))
            .map_err(read_error)?;
        multi
            .add_create(&self.table_path(to), &to_json(&record), &PERSISTENT)
            .map_err(read_error)?;
        if kind == EntryKind::View {
            multi
                .add_delete(&self.view_marker(from), None)
                .map_err(read_error)?;
            multi
                .add_create(&self.view_marker(to), b"", &PERSISTENT)
                .map_err(read_error)?;
        }
        match multi.commit().await.map_err(multi_error) {
            Ok(_) => Ok(()),
            Err((_, ZkError::NodeExists)) => Err(StoreError::NameTaken(to.to_string())),
            Err((Some(0 | 2), ZkError::NoNode | ZkError::BadVersion)) => {
                Err(StoreError::NoSuchEntry(from.to_string()))
            }
            Err((Some(_), ZkError::NoNode)) => {
                Err(StoreError::NoSuchNamespace(to.namespace.to_string()))
            }
            Err((_, e)) => Err(write_error(e)),
        }
    }
}

#[cfg(test)]
#[path = "zookeeper_tests.rs"]
mod tests;
