//! The commit protocol's outcomes with a store that fails on purpose: a certain failure
//! deletes the new metadata file; an unknown outcome deletes nothing and answers
//! CommitStateUnknown unless re-reading the pointer shows the commit landed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use floe_locks::InProcessLockManager;
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
use iceberg::{NamespaceIdent, TableIdent, TableUpdate};
use iceberg_catalog_rest::CreateTableRequest;

use super::*;
use crate::store::{
    CatalogStore, EmbeddedStore, EntryKind, EntryRecord, IdempotencyStore, KeyRecord, KeyState,
    PageRequest, PointerSwap, PropertyChanges, StoreError,
};
use crate::warehouse::Warehouse;
use uuid::Uuid;

/// How the next pointer move fails.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    /// The move is not applied and the store cannot tell.
    UnknownNotApplied,
    /// The move is applied but its answer is lost.
    UnknownApplied,
    /// The move is refused: someone else moved the pointer.
    Moved,
}

/// The embedded store with a fault injected into the next `swap_pointers`.
struct FaultyStore {
    inner: EmbeddedStore,
    fault: Mutex<Fault>,
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

#[tokio::test]
async fn certain_failures_delete_and_unknown_outcomes_keep_files() {
    let wh_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FaultyStore {
        inner: EmbeddedStore::open(data_dir.path()).unwrap(),
        fault: Mutex::new(Fault::None),
    });
    let catalog = Catalog::new(
        store.clone(),
        Warehouse::local(wh_dir.path()).unwrap(),
        Arc::new(InProcessLockManager::new()),
    );
    let ns = NamespaceIdent::new("n".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    let schema = Schema::builder()
        .with_fields(vec![NestedField::required(
            1,
            "id",
            Type::Primitive(PrimitiveType::Long),
        )
        .into()])
        .build()
        .unwrap();
    let request = CreateTableRequest {
        name: "t".into(),
        location: None,
        schema,
        partition_spec: None,
        write_order: None,
        stage_create: None,
        properties: HashMap::new(),
    };
    catalog.create_table(&ns, request).await.unwrap();
    let ident = TableIdent::new(ns, "t".into());
    let change = |i: u32| TableChange {
        ident: ident.clone(),
        requirements: vec![],
        updates: vec![TableUpdate::SetProperties {
            updates: HashMap::from([(format!("k{i}"), "v".to_string())]),
        }],
    };
    let pointer = || async {
        store
            .load_entry(&ident)
            .await
            .unwrap()
            .unwrap()
            .metadata_location
    };

    // (fault, expected outcome, pointer moves, files added)
    let cases = [
        (Fault::None, "ok", true, 1),
        (Fault::Moved, "failed", false, 0),
        (Fault::UnknownNotApplied, "unknown", false, 1),
        (Fault::UnknownApplied, "ok", true, 1),
    ];
    for (i, (fault, outcome, moves, added)) in cases.into_iter().enumerate() {
        let before_files = metadata_files(wh_dir.path()).len();
        let before = pointer().await;
        *store.fault.lock().unwrap() = fault;
        let got = catalog.commit_table(change(i as u32)).await;
        let kind = match &got {
            Ok(_) => "ok",
            Err(CatalogError::CommitFailed(_)) => "failed",
            Err(CatalogError::CommitStateUnknown(_)) => "unknown",
            Err(e) => panic!("{fault:?}: unexpected {e}"),
        };
        assert_eq!(kind, outcome, "{fault:?}");
        assert_eq!(pointer().await != before, moves, "{fault:?}");
        assert_eq!(
            metadata_files(wh_dir.path()).len(),
            before_files + added,
            "{fault:?}: files kept or deleted wrongly"
        );
        // The pointer always names a file that exists.
        assert!(std::path::Path::new(&pointer().await).exists());
    }
}
