//! The catalog store on ZooKeeper, for several `floe serve` nodes sharing one warehouse.
//! Layout under the root (default `/floe`):
//! - `catalog/namespaces/<ns>`: a namespace, data = JSON properties; `<ns>` is the levels,
//!   each percent-encoded, joined by `.` (levels never contain `.`).
//! - `catalog/tables/<ns>/<table>`: a table pointer, data = JSON `TableRecord`.
//!
//! Every change is one conditional write or one `multi`: a pointer moves by `setData` on the
//! version read (the lock serializes, the version proves it), a multi-table commit is one
//! `multi`. A creating child namespace rewrites its parent at the version read, so a
//! concurrent drop of the parent fails instead of orphaning the child. A write that loses
//! its connection reports `OutcomeUnknown`; `load_table_fresh` syncs before reading so the
//! catalog can settle it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use iceberg::{NamespaceIdent, TableIdent};
use zookeeper_client::{
    Acls, Client, CreateMode, CreateOptions, Error as ZkError, MultiWriteError,
};

use super::znode_names::{decode, encode, namespace_from_node, namespace_node};
use super::{
    apply_property_changes, paginate, CatalogStore, PageRequest, PointerSwap, PropertyChanges,
    StoreError, TableRecord,
};
use crate::names::{display_namespace, display_table, namespace_key};

const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
/// How often a change retries after a concurrent change of what it read.
const VERSION_RETRIES: usize = 8;

/// The catalog store in a ZooKeeper ensemble.
pub struct ZooKeeperStore {
    /// The current session; replaced by a new one when it has expired.
    client: std::sync::Mutex<Client>,
    /// Serializes opening a new session, so concurrent requests share it.
    reconnecting: tokio::sync::Mutex<()>,
    connect: String,
    session_timeout: Duration,
    namespaces: String,
    tables: String,
}

/// A read failed: nothing changed, the store is unreachable or refused.
fn read_error(e: ZkError) -> StoreError {
    StoreError::Unavailable(format!("zookeeper: {e}"))
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
        | ZkError::NotReadOnly => StoreError::Failed(format!("zookeeper: {e}")),
        e => StoreError::OutcomeUnknown(format!("zookeeper: {e}")),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("store values always serialize")
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Failed(format!("corrupt znode: {e}")))
}

impl ZooKeeperStore {
    /// Connects to `connect` (`host:port[,host:port...]`) and creates the layout under
    /// `root` when missing.
    pub async fn connect(
        connect: &str,
        root: &str,
        session_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let client = open_session(connect, session_timeout).await?;
        let root = root.trim_end_matches('/');
        let store = Self {
            client: std::sync::Mutex::new(client),
            reconnecting: tokio::sync::Mutex::new(()),
            connect: connect.to_string(),
            session_timeout,
            namespaces: format!("{root}/catalog/namespaces"),
            tables: format!("{root}/catalog/tables"),
        };
        let catalog = format!("{root}/catalog");
        for path in [root, catalog.as_str(), &store.namespaces, &store.tables] {
            match store.client().await?.create(path, b"", &PERSISTENT).await {
                Ok(_) | Err(ZkError::NodeExists) => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(store)
    }

    /// The session to use: the current one, or a new one when it has expired (the
    /// writes of an expired session have all landed or never will).
    async fn client(&self) -> Result<Client, StoreError> {
        let current = self.current();
        if !current.state().is_terminated() {
            return Ok(current);
        }
        let _one_at_a_time = self.reconnecting.lock().await;
        let current = self.current();
        if !current.state().is_terminated() {
            return Ok(current);
        }
        tracing::warn!("ZooKeeper session expired; opening a new one");
        let fresh = open_session(&self.connect, self.session_timeout).await?;
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    fn current(&self) -> Client {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
    ) -> Result<Option<(TableRecord, i32)>, StoreError> {
        match self.get(&self.table_path(ident)).await? {
            Some((data, version)) => Ok(Some((from_json(&data)?, version))),
            None => Ok(None),
        }
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
            None => Err(StoreError::NoSuchNamespace(display_namespace(ns))),
        }
    }
}

async fn open_session(connect: &str, session_timeout: Duration) -> Result<Client, StoreError> {
    let connecting = Client::connector()
        .with_session_timeout(session_timeout)
        .connect(connect);
    tokio::time::timeout(session_timeout * 2 + Duration::from_secs(1), connecting)
        .await
        .unwrap_or(Err(ZkError::Timeout))
        .map_err(|e| StoreError::Failed(format!("cannot connect to zookeeper {connect}: {e}")))
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
                    return Err(StoreError::NoSuchNamespace(display_namespace(&parent)));
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
                return Err(StoreError::NoSuchNamespace(display_namespace(ns)));
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
                Err(ZkError::NoNode) => {
                    return Err(StoreError::NoSuchNamespace(display_namespace(ns)))
                }
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
                return Err(StoreError::NoSuchNamespace(display_namespace(ns)));
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
            let client = self.client().await?;
            let mut multi = client.new_multi_writer();
            multi
                .add_delete(&self.tables_path(ns), None)
                .map_err(read_error)?;
            multi.add_delete(&path, Some(version)).map_err(read_error)?;
            match multi.commit().await.map_err(multi_error) {
                Ok(_) => return Ok(()),
                Err((_, ZkError::NotEmpty)) => return Err(StoreError::NamespaceNotEmpty),
                // A child was created or the properties changed since the read: look again.
                Err((_, ZkError::BadVersion)) => continue,
                Err((_, ZkError::NoNode)) => {
                    return Err(StoreError::NoSuchNamespace(display_namespace(ns)))
                }
                Err((_, e)) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed(
            "namespace kept changing; try again".into(),
        ))
    }

    async fn load_table(&self, ident: &TableIdent) -> Result<Option<TableRecord>, StoreError> {
        Ok(self.get_record(ident).await?.map(|(r, _)| r))
    }

    async fn load_table_fresh(
        &self,
        ident: &TableIdent,
    ) -> Result<Option<TableRecord>, StoreError> {
        // sync makes this read see every write the ensemble has applied, including one
        // whose answer this client lost.
        self.client()
            .await?
            .sync(&self.tables)
            .await
            .map_err(read_error)?;
        self.load_table(ident).await
    }

    async fn list_tables(
        &self,
        ns: &NamespaceIdent,
        page: &PageRequest,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let nodes = match self
            .client()
            .await?
            .list_children(&self.tables_path(ns))
            .await
        {
            Ok(nodes) => nodes,
            Err(ZkError::NoNode) => return Err(StoreError::NoSuchNamespace(display_namespace(ns))),
            Err(e) => return Err(read_error(e)),
        };
        let names = nodes
            .iter()
            .map(|n| decode(n).map(|name| (name.clone(), name)))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        paginate(names, page)
    }

    async fn table_locations(&self) -> Result<Vec<(TableIdent, String)>, StoreError> {
        let mut out = Vec::new();
        for ns in self.all_namespaces().await? {
            let (names, _) = self.list_tables(&ns, &PageRequest::default()).await?;
            for name in names {
                let ident = TableIdent::new(ns.clone(), name);
                if let Some((record, _)) = self.get_record(&ident).await? {
                    out.push((ident, record.location));
                }
            }
        }
        Ok(out)
    }

    async fn swap_pointers(&self, swaps: &[PointerSwap]) -> Result<(), StoreError> {
        let client = self.client().await?;
        let mut multi = client.new_multi_writer();
        for swap in swaps {
            let path = self.table_path(&swap.ident);
            let data = to_json(&swap.new);
            let current = self.get_record(&swap.ident).await?;
            match (current, &swap.expected) {
                (None, None) => multi.add_create(&path, &data, &PERSISTENT),
                (Some((r, version)), Some(expected)) if &r.metadata_location == expected => {
                    multi.add_set_data(&path, &data, Some(version))
                }
                (Some(_), None) => return Err(StoreError::TableExists(display_table(&swap.ident))),
                (found, expected) => {
                    return Err(StoreError::PointerMoved {
                        table: display_table(&swap.ident),
                        expected: expected.clone(),
                        found: found.map(|(r, _)| r.metadata_location),
                    })
                }
            }
            .map_err(read_error)?;
        }
        match multi.commit().await.map_err(multi_error) {
            Ok(_) => Ok(()),
            Err((Some(i), e)) => {
                let swap = &swaps[i];
                let table = display_table(&swap.ident);
                Err(match (e, &swap.expected) {
                    (ZkError::NodeExists, _) => StoreError::TableExists(table),
                    (ZkError::NoNode, None) => {
                        StoreError::NoSuchNamespace(display_namespace(&swap.ident.namespace))
                    }
                    (ZkError::NoNode | ZkError::BadVersion, Some(expected)) => {
                        StoreError::PointerMoved {
                            table,
                            expected: Some(expected.clone()),
                            found: None,
                        }
                    }
                    (e, _) => write_error(e),
                })
            }
            Err((None, e)) => Err(write_error(e)),
        }
    }

    async fn register_table(
        &self,
        ident: &TableIdent,
        record: TableRecord,
        overwrite: bool,
    ) -> Result<(), StoreError> {
        self.require_namespace(&ident.namespace).await?;
        let path = self.table_path(ident);
        let data = to_json(&record);
        match self.client().await?.create(&path, &data, &PERSISTENT).await {
            Ok(_) => Ok(()),
            Err(ZkError::NodeExists) if overwrite => self
                .client()
                .await?
                .set_data(&path, &data, None)
                .await
                .map(|_| ())
                .map_err(write_error),
            Err(ZkError::NodeExists) => Err(StoreError::TableExists(display_table(ident))),
            Err(ZkError::NoNode) => Err(StoreError::NoSuchNamespace(display_namespace(
                &ident.namespace,
            ))),
            Err(e) => Err(write_error(e)),
        }
    }

    async fn drop_table(&self, ident: &TableIdent) -> Result<TableRecord, StoreError> {
        for _ in 0..VERSION_RETRIES {
            let Some((record, version)) = self.get_record(ident).await? else {
                return Err(StoreError::NoSuchTable(display_table(ident)));
            };
            match self
                .client()
                .await?
                .delete(&self.table_path(ident), Some(version))
                .await
            {
                Ok(()) => return Ok(record),
                Err(ZkError::BadVersion) => continue,
                Err(ZkError::NoNode) => return Err(StoreError::NoSuchTable(display_table(ident))),
                Err(e) => return Err(write_error(e)),
            }
        }
        Err(StoreError::Failed("table kept changing; try again".into()))
    }

    async fn rename_table(&self, from: &TableIdent, to: &TableIdent) -> Result<(), StoreError> {
        let Some((record, version)) = self.get_record(from).await? else {
            return Err(StoreError::NoSuchTable(display_table(from)));
        };
        self.require_namespace(&to.namespace).await?;
        let client = self.client().await?;
        let mut multi = client.new_multi_writer();
        multi
            .add_delete(&self.table_path(from), Some(version))
            .map_err(read_error)?;
        multi
            .add_create(&self.table_path(to), &to_json(&record), &PERSISTENT)
            .map_err(read_error)?;
        match multi.commit().await.map_err(multi_error) {
            Ok(_) => Ok(()),
            Err((_, ZkError::NodeExists)) => Err(StoreError::TableExists(display_table(to))),
            Err((Some(0), ZkError::NoNode | ZkError::BadVersion)) => {
                Err(StoreError::NoSuchTable(display_table(from)))
            }
            Err((Some(_), ZkError::NoNode)) => Err(StoreError::NoSuchNamespace(display_namespace(
                &to.namespace,
            ))),
            Err((_, e)) => Err(write_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::store_contract::run_contract;

    /// The store contract against a real ZooKeeper (`FLOE_TEST_ZK`, set by the test
    /// script), each run under a fresh root.
    #[tokio::test]
    async fn zookeeper_store_keeps_the_contract() {
        let Ok(connect) = std::env::var("FLOE_TEST_ZK") else {
            println!("SKIP: FLOE_TEST_ZK not set");
            return;
        };
        run_contract(|| {
            let root = format!("/store-test-{}", uuid::Uuid::new_v4().simple());
            let connect = connect.clone();
            async move {
                ZooKeeperStore::connect(&connect, &root, Duration::from_secs(10))
                    .await
                    .unwrap()
            }
        })
        .await;
    }
}
