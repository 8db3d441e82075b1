//! The catalog store: namespaces, and the pointers of their tables and views (which
//! metadata file is current).
//! `CatalogStore` is what the catalog needs from any backend; `EmbeddedStore` (redb) is
//! the default. The rules shared by every backend (property updates, pagination, the
//! arrival of an idempotency key) are pure functions.

mod embedded;
mod idempotency;
mod pointer_versions;
#[cfg(test)]
mod store_contract;
mod znode_names;
mod zookeeper;

pub(crate) use crate::error::Failure;
pub use embedded::EmbeddedStore;
pub use idempotency::{IdempotencyStore, KeptAnswer, KeyRecord, KeyState};
pub use zookeeper::ZooKeeperStore;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use base64::Engine;
use iceberg::{NamespaceIdent, TableIdent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::entry::EntryKind;

/// A table's or a view's entry in the store: its pointer and what the catalog checks
/// without reading metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// The current metadata file: the pointer.
    pub metadata_location: String,
    /// The table's or view's uuid, which its commit lock is keyed by. (Stored under the
    /// name it had when only tables were kept.)
    #[serde(rename = "table_uuid")]
    pub uuid: Uuid,
    /// The table's or view's location, kept to refuse locations that overlap.
    pub location: String,
    /// A table or a view; entries stored without it are tables.
    #[serde(default, skip_serializing_if = "EntryKind::is_table")]
    pub kind: EntryKind,
}

/// One pointer move of a commit: `expected` is the metadata location the commit started
/// from (`None`: the table must not exist yet).
#[derive(Clone, Debug)]
pub struct PointerSwap {
    /// The table or view whose pointer moves.
    pub ident: TableIdent,
    /// Where the pointer must still be; `None`: the name must not be taken yet.
    pub expected: Option<String>,
    /// The entry the table gets.
    pub new: EntryRecord,
}

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StoreError {
    /// The namespace to create exists.
    #[error("namespace already exists")]
    NamespaceExists,
    /// This namespace (by name) does not exist.
    #[error("namespace does not exist: {0}")]
    NoSuchNamespace(String),
    /// The namespace to drop holds tables, views or namespaces.
    #[error("namespace has tables, views or child namespaces")]
    NamespaceNotEmpty,
    /// A table or a view has this name already.
    #[error("a table or view named {0} exists already")]
    NameTaken(String),
    /// No table or view of the kind asked for has this name.
    #[error("no such table or view: {0}")]
    NoSuchEntry(String),
    /// A pointer is not where the commit expected it: nothing was changed.
    #[error("{table} changed concurrently: expected {expected:?}, found {found:?}")]
    PointerMoved {
        /// The table or view.
        table: String,
        /// Where the commit expected its pointer.
        expected: Option<String>,
        /// Where it is.
        found: Option<String>,
    },
    /// A page token this store did not hand out.
    #[error("invalid page token {0:?}")]
    BadPageToken(String),
    /// The store failed and nothing was changed.
    #[error("store failed: {0}")]
    Failed(#[source] Failure),
    /// The store could not be reached; nothing was changed.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Failure),
    /// The store failed in a way that leaves unknown whether the change was applied.
    #[error("store outcome unknown: {0}")]
    OutcomeUnknown(#[source] Failure),
}

/// A page request: return at most `size` items after `token`.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    /// Where the page starts: the token the page before answered; `None`: the first.
    pub token: Option<String>,
    /// The most items the page may hold; `None`: all.
    pub size: Option<usize>,
}

/// The result of `update_namespace_properties`, as the REST spec returns it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PropertyChanges {
    /// Keys set.
    pub updated: Vec<String>,
    /// Keys removed.
    pub removed: Vec<String>,
    /// Keys asked to be removed that were not set.
    pub missing: Vec<String>,
}

/// What the catalog needs from a backend that keeps namespaces and the pointers of tables
/// and views (entries, sharing one set of names per namespace): every
/// change is atomic, and a pointer moves only by compare-and-swap. It keeps the catalog's
/// idempotency keys too.
#[async_trait]
pub trait CatalogStore: IdempotencyStore + Send + Sync + 'static {
    /// Creates a namespace; its parent must exist.
    async fn create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<(), StoreError>;
    /// A namespace's properties; `None` when it does not exist.
    async fn namespace_properties(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<Option<HashMap<String, String>>, StoreError>;
    /// Direct children of `parent` (top-level namespaces without one), sorted.
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
        page: &PageRequest,
    ) -> Result<(Vec<NamespaceIdent>, Option<String>), StoreError>;
    /// Removes `removals` and sets `updates` on a namespace's properties, in one change.
    async fn update_namespace_properties(
        &self,
        ns: &NamespaceIdent,
        updates: HashMap<String, String>,
        removals: Vec<String>,
    ) -> Result<PropertyChanges, StoreError>;
    /// Drops an empty namespace.
    async fn drop_namespace(&self, ns: &NamespaceIdent) -> Result<(), StoreError>;

    /// The entry (table or view) of a name; `None` when the name is free.
    async fn load_entry(&self, ident: &TableIdent) -> Result<Option<EntryRecord>, StoreError>;
    /// Like `load_entry`, but sees every write the store has applied, including one whose
    /// answer was lost: what a commit with an unknown outcome reads to settle it.
    async fn load_entry_fresh(
        &self,
        ident: &TableIdent,
    ) -> Result<Option<EntryRecord>, StoreError> {
        self.load_entry(ident).await
    }
    /// The names of a namespace's tables or of its views, sorted.
    async fn list_entries(
        &self,
        ns: &NamespaceIdent,
        kind: EntryKind,
        page: &PageRequest,
    ) -> Result<(Vec<String>, Option<String>), StoreError>;
    /// Every table's and view's location, to check a new location overlaps none.
    async fn entry_locations(&self) -> Result<Vec<(TableIdent, String)>, StoreError>;
    /// Moves every pointer or none: each must still be at its `expected` location. A move
    /// from `None` creates the entry, of the new record's kind.
    async fn swap_pointers(&self, swaps: &[PointerSwap]) -> Result<(), StoreError>;
    /// Registers an entry at an existing metadata file; with `overwrite`, replaces an
    /// existing entry of the same kind (never one of the other kind).
    async fn register_entry(
        &self,
        ident: &TableIdent,
        record: EntryRecord,
        overwrite: bool,
    ) -> Result<(), StoreError>;
    /// Removes the entry of a name if it is of `kind`, and returns it.
    async fn drop_entry(
        &self,
        ident: &TableIdent,
        kind: EntryKind,
    ) -> Result<EntryRecord, StoreError>;
    /// Moves the entry of `from`, if it is of `kind`, to another name (in an existing
    /// namespace, not taken).
    async fn rename_entry(
        &self,
        from: &TableIdent,
        to: &TableIdent,
        kind: EntryKind,
    ) -> Result<(), StoreError>;

    /// Whether the store answers: one small read.
    async fn ping(&self) -> Result<(), StoreError> {
        let page = PageRequest {
            token: None,
            size: Some(1),
        };
        self.list_namespaces(None, &page).await.map(|_| ())
    }
}

/// Applies a properties update: removals first, then updates. A key both removed and
/// updated counts as updated, and missing removals are reported, as the spec says.
pub fn apply_property_changes(
    properties: &mut HashMap<String, String>,
    updates: HashMap<String, String>,
    removals: Vec<String>,
) -> PropertyChanges {
    let mut changes = PropertyChanges::default();
    for key in removals {
        if updates.contains_key(&key) {
            continue;
        }
        if properties.remove(&key).is_some() {
            changes.removed.push(key);
        } else {
            changes.missing.push(key);
        }
    }
    for (key, value) in updates {
        properties.insert(key.clone(), value);
        changes.updated.push(key);
    }
    changes.updated.sort();
    changes.removed.sort();
    changes.missing.sort();
    changes
}

/// Cuts one page out of sorted `(key, item)` pairs. The token is the last key of the
/// previous page (base64url), so a page stays correct when items are added or removed
/// between requests.
pub fn paginate<T>(
    items: BTreeMap<String, T>,
    page: &PageRequest,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    let after = match &page.token {
        None => None,
        Some(t) if t.is_empty() => None,
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| StoreError::BadPageToken(token.clone()))?,
        ),
    };
    let mut rest = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .peekable();
    let size = page.size.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut last_key = None;
    while out.len() < size {
        match rest.next() {
            Some((k, v)) => {
                last_key = Some(k);
                out.push(v);
            }
            None => break,
        }
    }
    let next = match (rest.peek(), last_key) {
        (Some(_), Some(k)) => Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)),
        _ => None,
    };
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn property_changes_report_updated_removed_missing() {
        let mut p = props(&[("a", "1"), ("b", "2")]);
        let changes = apply_property_changes(
            &mut p,
            props(&[("c", "3"), ("b", "20")]),
            vec!["a".into(), "zz".into(), "b".into()],
        );
        assert_eq!(changes.updated, vec!["b", "c"]);
        assert_eq!(changes.removed, vec!["a"]);
        assert_eq!(changes.missing, vec!["zz"]);
        assert_eq!(p, props(&[("b", "20"), ("c", "3")]));
    }

    #[test]
    fn pages_cover_every_item_once() {
        let items: BTreeMap<String, u32> = (0..7).map(|i| (format!("k{i}"), i)).collect();
        let mut seen = Vec::new();
        let mut page = PageRequest {
            token: None,
            size: Some(3),
        };
        let mut pages = 0;
        loop {
            let (got, next) = paginate(items.clone(), &page).unwrap();
            pages += 1;
            seen.extend(got);
            match next {
                Some(t) => page.token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
        assert_eq!(pages, 3);
        let (all, next) = paginate(items, &PageRequest::default()).unwrap();
        assert_eq!((all.len(), next), (7, None));
        let bad = PageRequest {
            token: Some("%%%".into()),
            size: None,
        };
        assert!(paginate(BTreeMap::<String, u32>::new(), &bad).is_err());
    }
}
