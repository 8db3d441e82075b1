//! The embedded catalog store: one redb database file in the data directory. redb is a
//! pure-Rust, ACID, copy-on-write B-tree store whose commits are atomic and fsync'd, so
//! the catalog survives a restart and a kill -9 at any instant, and a multi-table commit
//! moves all of its pointers in one transaction. redb also locks the file, so two
//! processes can never share one embedded store (in-process locks stay correct).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use iceberg::{NamespaceIdent, TableIdent};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use uuid::Uuid;

use super::idempotency::{claim, on_arrival, IdempotencyStore, KeyRecord, KeyState};
use super::{
    apply_property_changes, paginate, CatalogStore, EntryKind, EntryRecord, Failure, PageRequest,
    PointerSwap, PropertyChanges, StoreError,
};
use crate::names::{namespace_from_key, namespace_key};

/// namespace key -> JSON properties
const NAMESPACES: TableDefinition<&str, &str> = TableDefinition::new("namespaces");
/// table or view key -> JSON `EntryRecord`
const TABLES: TableDefinition<&str, &str> = TableDefinition::new("tables");
/// idempotency key -> JSON `KeyRecord`
const KEYS: TableDefinition<&str, &str> = TableDefinition::new("idempotency_keys");

/// Separates the namespace key from the table name in a table key.
const TABLE_SEPARATOR: char = '\u{1e}';

fn table_key(ident: &TableIdent) -> String {
    format!(
        "{}{TABLE_SEPARATOR}{}",
        namespace_key(&ident.namespace),
        ident.name
    )
}

fn failed(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Failed(Failure::of(e.into()))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store values always serialize")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Failed(Failure::because("corrupt store entry", e)))
}

/// The catalog store in a local redb file.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    /// Opens (or creates) `catalog.redb` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Failed(Failure::because(
                format!("cannot create {}", data_dir.display()),
                e,
            ))
        })?;
        let path = data_dir.join("catalog.redb");
        let db = Database::create(&path).map_err(|e| {
            StoreError::Failed(Failure::because(
                format!("cannot open {}", path.display()),
                e,
            ))
        })?;
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(NAMESPACES).map_err(failed)?;
        txn.open_table(TABLES).map_err(failed)?;
        txn.open_table(KEYS).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs `f` in a read transaction on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db.begin_read().map_err(failed)?))
            .await
            .map_err(|e| StoreError::Failed(Failure::of(e)))?
    }

    /// Runs `f` in a write transaction on a blocking thread; commits when it succeeds.
    /// A failed commit leaves the outcome unknown to the caller.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(failed)?;
            let value = f(&txn)?; // dropping an uncommitted transaction aborts it
            txn.commit()
                .map_err(|e| StoreError::OutcomeUnknown(Failure::of(e)))?;
            Ok(value)
        })
        .await
        .map_err(|e| StoreError::OutcomeUnknown(Failure::of(e)))?
    }
}

fn namespace_exists(txn: &WriteTransaction, ns: &NamespaceIdent) -> Result<bool, StoreError> {
    let table = txn.open_table(NAMESPACES).map_err(failed)?;
    let found = table
        .get(namespace_key(ns).as_str())
        .map_err(failed)?
        .is_some();
    Ok(found)
}

fn get_record(txn: &WriteTransaction, key: &str) -> Result<Option<EntryRecord>, StoreError> {
    let table = txn.open_table(TABLES).map_err(failed)?;
    let value = table.get(key).map_err(failed)?;
    value.map(|v| from_json(v.value())).transpose()
}

fn put_record(txn: &WriteTransaction, key: &str, record: &EntryRecord) -> Result<(), StoreError> {
    let mut table = txn.open_table(TABLES).map_err(failed)?;
    table
        .insert(key, to_json(record).as_str())
        .map_err(failed)?;
    Ok(())
}

fn require_namespace(txn: &WriteTransaction, ns: &NamespaceIdent) -> Result<(), StoreError> {
    if namespace_exists(txn, ns)? {
        Ok(())
    } else {
        Err(StoreError::NoSuchNamespace(ns.to_string()))
    }
}

/// All keys of a redb table that start with `prefix`, with their values.
fn scan_prefix(
    table: &impl ReadableTable<&'static str, &'static str>,
    prefix: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for entry in table.range(prefix..).map_err(failed)? {
        let (k, v) = entry.map_err(failed)?;
        if !k.value().starts_with(prefix) {
            break;
        }
        out.push((k.value().to_string(), v.value().to_string()));
    }
    Ok(out)
}

#[async_trait]
impl CatalogStore for EmbeddedStore {
    async fn create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<(), StoreError> {
        let ns = ns.clone();
        self.write(move |txn| {
            if namespace_exists(txn, &ns)? {
                return Err(StoreError::NamespaceExists);
            }
            if let Some(parent) = ns.parent() {
                require_namespace(txn, &parent)?;
            }
            let mut table = txn.open_table(NAMESPACES).map_err(failed)?;
            table
                .insert(namespace_key(&ns).as_str(), to_json(&properties).as_str())
                .map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn namespace_properties(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<Option<HashMap<String, String>>, StoreError> {
        let key = namespace_key(ns);
        self.read(move |txn| {
            let table = txn.open_table(NAMESPACES).map_err(failed)?;
            let value = table.get(key.as_str()).map_err(failed)?;
            value.map(|v| from_json(v.value())).transpose()
        })
        .await
    }

    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
        page: &PageRequest,
    ) -> Result<(Vec<NamespaceIdent>, Option<String>), StoreError> {
        let parent = parent.cloned();
        let page = page.clone();
        self.read(move |txn| {
            let table = txn.open_table(NAMESPACES).map_err(failed)?;
            let prefix = match &parent {
                Some(p) => {
                    if table
                        .get(namespace_key(p).as_str())
                        .map_err(failed)?
                        .is_none()
                    {
                        return Err(StoreError::NoSuchNamespace(p.to_string()));
                    }
                    format!("{}{}", namespace_key(p), crate::names::NAMESPACE_SEPARATOR)
                }
                None => String::new(),
            };
            let children: BTreeMap<String, NamespaceIdent> = scan_prefix(&table, &prefix)?
                .into_iter()
                .filter(|(k, _)| !k[prefix.len()..].contains(crate::names::NAMESPACE_SEPARATOR))
                .map(|(k, _)| {
                    let ns = namespace_from_key(&k);
                    (k, ns)
                })
                .collect();
            paginate(children, &page)
        })
        .await
    }

    async fn update_namespace_properties(
        &self,
        ns: &NamespaceIdent,
        updates: HashMap<String, String>,
        removals: Vec<String>,
    ) -> Result<PropertyChanges, StoreError> {
        let ns = ns.clone();
        self.write(move |txn| {
            let key = namespace_key(&ns);
            let mut table = txn.open_table(NAMESPACES).map_err(failed)?;
            let mut properties: HashMap<String, String> =
                match table.get(key.as_str()).map_err(failed)? {
                    Some(v) => from_json(v.value())?,
                    None => return Err(StoreError::NoSuchNamespace(ns.to_string())),
                };
            let changes = apply_property_changes(&mut properties, updates, removals);
            table
                .insert(key.as_str(), to_json(&properties).as_str())
                .map_err(failed)?;
            Ok(changes)
        })
        .await
    }

    async fn drop_namespace(&self, ns: &NamespaceIdent) -> Result<(), StoreError> {
        let ns = ns.clone();
        self.write(move |txn| {
            require_namespace(txn, &ns)?;
            let key = namespace_key(&ns);
            let mut namespaces = txn.open_table(NAMESPACES).map_err(failed)?;
            let tables = txn.open_table(TABLES).map_err(failed)?;
            let child_prefix = format!("{key}{}", crate::names::NAMESPACE_SEPARATOR);
            let table_prefix = format!("{key}{TABLE_SEPARATOR}");
            if !scan_prefix(&namespaces, &child_prefix)?.is_empty()
                || !scan_prefix(&tables, &table_prefix)?.is_empty()
            {
                return Err(StoreError::NamespaceNotEmpty);
            }
            namespaces.remove(key.as_str()).map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn load_entry(&self, ident: &TableIdent) -> Result<Option<EntryRecord>, StoreError> {
        let key = table_key(ident);
        self.read(move |txn| {
            let table = txn.open_table(TABLES).map_err(failed)?;
            let value = table.get(key.as_str()).map_err(failed)?;
            value.map(|v| from_json(v.value())).transpose()
        })
        .await
    }

    async fn list_entries(
        &self,
        ns: &NamespaceIdent,
        kind: EntryKind,
        page: &PageRequest,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let ns = ns.clone();
        let page = page.clone();
        self.read(move |txn| {
            let namespaces = txn.open_table(NAMESPACES).map_err(failed)?;
            if namespaces
                .get(namespace_key(&ns).as_str())
                .map_err(failed)?
                .is_none()
            {
                return Err(StoreError::NoSuchNamespace(ns.to_string()));
            }
            let tables = txn.open_table(TABLES).map_err(failed)?;
            let prefix = format!("{}{TABLE_SEPARATOR}", namespace_key(&ns));
            let mut names = BTreeMap::new();
            for (key, value) in scan_prefix(&tables, &prefix)? {
                if from_json::<EntryRecord>(&value)?.kind == kind {
                    let name = key[prefix.len()..].to_string();
                    names.insert(key, name);
                }
            }
            paginate(names, &page)
        })
        .await
    }

    async fn entry_locations(&self) -> Result<Vec<(TableIdent, String)>, StoreError> {
        self.read(|txn| {
            let tables = txn.open_table(TABLES).map_err(failed)?;
            scan_prefix(&tables, "")?
                .into_iter()
                .map(|(k, v)| {
                    let (ns, name) = k
                        .split_once(TABLE_SEPARATOR)
                        .expect("table keys have a separator");
                    let record: EntryRecord = from_json(&v)?;
                    Ok((
                        TableIdent::new(namespace_from_key(ns), name.to_string()),
                        record.location,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn swap_pointers(&self, swaps: &[PointerSwap]) -> Result<(), StoreError> {
        let swaps = swaps.to_vec();
        self.write(move |txn| {
            for swap in &swaps {
                let key = table_key(&swap.ident);
                let current = get_record(txn, &key)?;
                let found = current.as_ref().map(|r| r.metadata_location.clone());
                if found != swap.expected {
                    if swap.expected.is_none() {
                        return Err(StoreError::NameTaken(swap.ident.to_string()));
                    }
                    return Err(StoreError::PointerMoved {
                        table: swap.ident.to_string(),
                        expected: swap.expected.clone(),
                        found,
                    });
                }
                if current.is_none() {
                    require_namespace(txn, &swap.ident.namespace)?;
                }
                put_record(txn, &key, &swap.new)?;
            }
            Ok(())
        })
        .await
    }

    async fn register_entry(
        &self,
        ident: &TableIdent,
        record: EntryRecord,
        overwrite: bool,
    ) -> Result<(), StoreError> {
        let ident = ident.clone();
        self.write(move |txn| {
            require_namespace(txn, &ident.namespace)?;
            let key = table_key(&ident);
            match get_record(txn, &key)? {
                Some(found) if !overwrite || found.kind != record.kind => {
                    Err(StoreError::NameTaken(ident.to_string()))
                }
                _ => put_record(txn, &key, &record),
            }
        })
        .await
    }

    async fn drop_entry(
        &self,
        ident: &TableIdent,
        kind: EntryKind,
    ) -> Result<EntryRecord, StoreError> {
        let ident = ident.clone();
        self.write(move |txn| {
            let key = table_key(&ident);
            match get_record(txn, &key)? {
                Some(record) if record.kind == kind => {
                    let mut tables = txn.open_table(TABLES).map_err(failed)?;
                    tables.remove(key.as_str()).map_err(failed)?;
                    Ok(record)
                }
                _ => Err(StoreError::NoSuchEntry(ident.to_string())),
            }
        })
        .await
    }

    async fn rename_entry(
        &self,
        from: &TableIdent,
        to: &TableIdent,
        kind: EntryKind,
    ) -> Result<(), StoreError> {
        let (from, to) = (from.clone(), to.clone());
        self.write(move |txn| {
            let from_key = table_key(&from);
            let to_key = table_key(&to);
            let record = get_record(txn, &from_key)?
                .filter(|r| r.kind == kind)
                .ok_or_else(|| StoreError::NoSuchEntry(from.to_string()))?;
            require_namespace(txn, &to.namespace)?;
            if get_record(txn, &to_key)?.is_some() {
                return Err(StoreError::NameTaken(to.to_string()));
            }
            let mut tables = txn.open_table(TABLES).map_err(failed)?;
            tables.remove(from_key.as_str()).map_err(failed)?;
            tables
                .insert(to_key.as_str(), to_json(&record).as_str())
                .map_err(failed)?;
            Ok(())
        })
        .await
    }
}

/// Keys in their own redb table; each change is one write transaction, so a claim is a
/// compare-and-swap by construction (redb has one writer at a time).
#[async_trait]
impl IdempotencyStore for EmbeddedStore {
    async fn claim_key(
        &self,
        key: Uuid,
        fingerprint: &str,
        now_ms: i64,
    ) -> Result<KeyState, StoreError> {
        let fingerprint = fingerprint.to_string();
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            let id = key.to_string();
            let found: Option<KeyRecord> = {
                let value = keys.get(id.as_str()).map_err(failed)?;
                value.map(|v| from_json(v.value())).transpose()?
            };
            let state = on_arrival(found.as_ref(), now_ms);
            if state == KeyState::Claimed {
                let record = to_json(&claim(&fingerprint, now_ms));
                keys.insert(id.as_str(), record.as_str()).map_err(failed)?;
            }
            Ok(state)
        })
        .await
    }

    async fn keep_answer(&self, key: Uuid, record: &KeyRecord) -> Result<(), StoreError> {
        let record = to_json(record);
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            keys.insert(key.to_string().as_str(), record.as_str())
                .map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn release_key(&self, key: Uuid) -> Result<(), StoreError> {
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            keys.remove(key.to_string().as_str()).map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn prune_keys(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            let mut old = Vec::new();
            for entry in keys.iter().map_err(failed)? {
                let (id, value) = entry.map_err(failed)?;
                let record: KeyRecord = from_json(value.value())?;
                if record.at_ms < before_ms {
                    old.push(id.value().to_string());
                }
            }
            for id in &old {
                keys.remove(id.as_str()).map_err(failed)?;
            }
            Ok(old.len())
        })
        .await
    }
}

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
