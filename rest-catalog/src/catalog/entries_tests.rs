//! Drops take the lock of the entry that is there once the lock is held: an entry replaced
//! under its name while the drop waited is dropped under the new entry's lock.

use std::time::Duration;

use floe_locks::LockManager;
use iceberg_catalog_rest::RegisterTableRequest;

use super::super::faulty_store::{table_named, Fixture};
use super::super::NewTable;
use crate::store::CatalogStore;

#[tokio::test]
async fn a_drop_waits_for_the_lock_of_the_entry_replaced_while_it_waited() {
    let f = Fixture::new().await;
    let ns = f.ident.namespace.clone();
    let first = f.lock_key().await;
    // Another table's metadata, to register over `n.t` while the drop waits.
    let created = f.catalog.create_table(&ns, table_named("other")).await;
    let NewTable::Created(other) = created.unwrap() else {
        panic!("not staged")
    };
    let other = other.location;
    let other_ident = iceberg::TableIdent::new(ns.clone(), "other".into());
    f.catalog.drop_table(&other_ident, false).await.unwrap();

    let wait = Duration::from_secs(5);
    let first_held = f.locks.acquire(&first, wait).await.unwrap();
    let dropping = tokio::spawn({
        let (catalog, ident) = (f.catalog.clone(), f.ident.clone());
        async move { catalog.drop_table(&ident, false).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let register = RegisterTableRequest {
        name: "t".into(),
        metadata_location: other,
        overwrite: Some(true),
    };
    f.catalog.register_table(&ns, register).await.unwrap();
    let second = f.lock_key().await;
    assert_ne!(first, second);
    let second_held = f.locks.acquire(&second, wait).await.unwrap();
    drop(first_held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !dropping.is_finished(),
        "the drop waits for the new entry's lock"
    );
    drop(second_held);
    dropping.await.unwrap().unwrap();
    assert!(f.store.load_entry(&f.ident).await.unwrap().is_none());
}
