//! The embedded store against the store contract, and what only it promises: its state
//! survives reopening, and one directory is never opened twice.

use std::collections::HashMap;

use iceberg::{NamespaceIdent, TableIdent};

use super::*;
use crate::store::store_contract::run_contract;

#[tokio::test]
async fn embedded_store_keeps_the_contract() {
    let dirs = std::sync::Mutex::new(Vec::new());
    run_contract(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        dirs.lock().unwrap().push(dir);
        async move { store }
    })
    .await;
}

#[tokio::test]
async fn state_survives_reopening_and_the_file_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let ns = NamespaceIdent::new("n".into());
    let t = TableIdent::new(ns.clone(), "t".into());
    let record = EntryRecord {
        metadata_location: "/w/n/t/metadata/00000-x.metadata.json".into(),
        uuid: uuid::Uuid::new_v4(),
        location: "/w/n/t".into(),
        kind: EntryKind::Table,
    };
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create_namespace(&ns, HashMap::new()).await.unwrap();
        store
            .register_entry(&t, record.clone(), false)
            .await
            .unwrap();
        // redb locks its file: a second store on the same directory is refused.
        assert!(EmbeddedStore::open(dir.path()).is_err());
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.load_entry(&t).await.unwrap(), Some(record));
    assert_eq!(
        store.namespace_properties(&ns).await.unwrap(),
        Some(HashMap::new())
    );
}
