//! The rules every `CatalogStore` backend must keep, as functions run against each
//! backend (the embedded store always; ZooKeeper when `FLOE_TEST_ZK` names a server).

use std::collections::HashMap;

use iceberg::{NamespaceIdent, TableIdent};
use uuid::Uuid;

use super::*;

fn ns(parts: &[&str]) -> NamespaceIdent {
    NamespaceIdent::from_strs(parts).unwrap()
}

fn rec(location: &str) -> EntryRecord {
    EntryRecord {
        metadata_location: format!("{location}/metadata/00000-x.metadata.json"),
        uuid: Uuid::new_v4(),
        location: location.to_string(),
        kind: EntryKind::Table,
    }
}

fn view(location: &str) -> EntryRecord {
    EntryRecord {
        kind: EntryKind::View,
        ..rec(location)
    }
}

fn swap(ident: &TableIdent, expected: Option<&str>, new: &EntryRecord) -> PointerSwap {
    PointerSwap {
        ident: ident.clone(),
        expected: expected.map(str::to_string),
        new: new.clone(),
    }
}

pub async fn namespaces_nest_and_drop_only_when_empty(store: &dyn CatalogStore) {
    assert_eq!(
        store
            .create_namespace(&ns(&["a", "b"]), HashMap::new())
            .await,
        Err(StoreError::NoSuchNamespace("a".into())),
        "a parent must exist"
    );
    store
        .create_namespace(&ns(&["a"]), HashMap::new())
        .await
        .unwrap();
    store
        .create_namespace(&ns(&["a", "b"]), HashMap::new())
        .await
        .unwrap();
    store
        .create_namespace(&ns(&["ab"]), HashMap::new())
        .await
        .unwrap();
    assert_eq!(
        store.create_namespace(&ns(&["a"]), HashMap::new()).await,
        Err(StoreError::NamespaceExists)
    );
    let page = PageRequest::default();
    let (top, _) = store.list_namespaces(None, &page).await.unwrap();
    assert_eq!(top, vec![ns(&["a"]), ns(&["ab"])]);
    let (children, _) = store
        .list_namespaces(Some(&ns(&["a"])), &page)
        .await
        .unwrap();
    assert_eq!(children, vec![ns(&["a", "b"])]);
    assert_eq!(
        store.drop_namespace(&ns(&["a"])).await,
        Err(StoreError::NamespaceNotEmpty)
    );
    let t = TableIdent::new(ns(&["ab"]), "t".into());
    store
        .swap_pointers(&[swap(&t, None, &rec("/w/ab/t"))])
        .await
        .unwrap();
    assert_eq!(
        store.drop_namespace(&ns(&["ab"])).await,
        Err(StoreError::NamespaceNotEmpty),
        "a namespace with a table is not empty"
    );
    store.drop_namespace(&ns(&["a", "b"])).await.unwrap();
    store.drop_namespace(&ns(&["a"])).await.unwrap();
}

pub async fn pointer_swaps_are_compare_and_swap_and_all_or_nothing(store: &dyn CatalogStore) {
    store
        .create_namespace(&ns(&["n"]), HashMap::new())
        .await
        .unwrap();
    let t1 = TableIdent::new(ns(&["n"]), "t1".into());
    let t2 = TableIdent::new(ns(&["n"]), "t2".into());
    let (r1, r2) = (rec("/w/n/t1"), rec("/w/n/t2"));
    store
        .swap_pointers(&[swap(&t1, None, &r1), swap(&t2, None, &r2)])
        .await
        .unwrap();
    assert!(matches!(
        store.swap_pointers(&[swap(&t1, None, &r1)]).await,
        Err(StoreError::NameTaken(_))
    ));
    let mut r1b = r1.clone();
    r1b.metadata_location = "/w/n/t1/metadata/00001-y.metadata.json".into();
    let mut r2b = r2.clone();
    r2b.metadata_location = "/w/n/t2/metadata/00001-y.metadata.json".into();
    // t2's expectation is stale: neither pointer moves.
    let got = store
        .swap_pointers(&[
            swap(&t1, Some(&r1.metadata_location), &r1b),
            swap(&t2, Some("/stale"), &r2b),
        ])
        .await;
    assert!(
        matches!(got, Err(StoreError::PointerMoved { .. })),
        "{got:?}"
    );
    assert_eq!(store.load_entry(&t1).await.unwrap(), Some(r1.clone()));
    store
        .swap_pointers(&[
            swap(&t1, Some(&r1.metadata_location), &r1b),
            swap(&t2, Some(&r2.metadata_location), &r2b),
        ])
        .await
        .unwrap();
    assert_eq!(store.load_entry(&t2).await.unwrap(), Some(r2b));
    // A create into a missing namespace is refused.
    let orphan = TableIdent::new(ns(&["missing"]), "t".into());
    assert!(matches!(
        store.swap_pointers(&[swap(&orphan, None, &r1)]).await,
        Err(StoreError::NoSuchNamespace(_))
    ));
}

pub async fn rename_register_and_drop(store: &dyn CatalogStore) {
    let t = TableIdent::new(ns(&["n"]), "t".into());
    let u = TableIdent::new(ns(&["n"]), "u".into());
    let r = rec("/w/n/t");
    let props = HashMap::from([("k".to_string(), "v".to_string())]);
    store
        .create_namespace(&ns(&["n"]), props.clone())
        .await
        .unwrap();
    store.register_entry(&t, r.clone(), false).await.unwrap();
    assert!(matches!(
        store.register_entry(&t, r.clone(), false).await,
        Err(StoreError::NameTaken(_))
    ));
    store.register_entry(&t, r.clone(), true).await.unwrap();
    store.rename_entry(&t, &u, EntryKind::Table).await.unwrap();
    assert!(matches!(
        store.rename_entry(&t, &u, EntryKind::Table).await,
        Err(StoreError::NoSuchEntry(_))
    ));
    assert_eq!(store.load_entry(&t).await.unwrap(), None);
    assert_eq!(store.load_entry_fresh(&u).await.unwrap(), Some(r.clone()));
    assert_eq!(
        store.namespace_properties(&ns(&["n"])).await.unwrap(),
        Some(props)
    );
    let changes = store
        .update_namespace_properties(
            &ns(&["n"]),
            HashMap::from([("a".to_string(), "1".to_string())]),
            vec!["k".into(), "gone".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        (changes.updated, changes.removed, changes.missing),
        (
            vec!["a".to_string()],
            vec!["k".to_string()],
            vec!["gone".to_string()]
        )
    );
    let (names, _) = store
        .list_entries(&ns(&["n"]), EntryKind::Table, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(names, vec!["u"]);
    let locations = store.entry_locations().await.unwrap();
    assert_eq!(locations, vec![(u.clone(), r.location.clone())]);
    assert_eq!(store.drop_entry(&u, EntryKind::Table).await.unwrap(), r);
    assert!(matches!(
        store.drop_entry(&u, EntryKind::Table).await,
        Err(StoreError::NoSuchEntry(_))
    ));
}

/// Tables and views share names: a view cannot take a table's name, listings keep them
/// apart, dropping or renaming by the other kind finds nothing, a view's pointer moves
/// like a table's, and a namespace holding a view is not empty.
pub async fn tables_and_views_share_names(store: &dyn CatalogStore) {
    let (n, n2) = (ns(&["n"]), ns(&["n2"]));
    for namespace in [&n, &n2] {
        store
            .create_namespace(namespace, HashMap::new())
            .await
            .unwrap();
    }
    let t = TableIdent::new(n.clone(), "t".into());
    let v = TableIdent::new(n.clone(), "v".into());
    let (rt, rv) = (rec("/w/n/t"), view("/w/n/v"));
    store
        .swap_pointers(&[swap(&t, None, &rt), swap(&v, None, &rv)])
        .await
        .unwrap();
    let taken = store
        .swap_pointers(&[swap(&t, None, &view("/w/n/t2"))])
        .await;
    assert!(matches!(taken, Err(StoreError::NameTaken(_))), "{taken:?}");
    let other_kind = store.register_entry(&v, rec("/w/n/v"), true).await;
    assert!(
        matches!(other_kind, Err(StoreError::NameTaken(_))),
        "{other_kind:?}"
    );
    let listed = |namespace: NamespaceIdent, kind| async move {
        let page = PageRequest::default();
        store.list_entries(&namespace, kind, &page).await.unwrap().0
    };
    assert_eq!(listed(n.clone(), EntryKind::Table).await, vec!["t"]);
    assert_eq!(listed(n.clone(), EntryKind::View).await, vec!["v"]);
    for (ident, wrong) in [(&v, EntryKind::Table), (&t, EntryKind::View)] {
        let dropped = store.drop_entry(ident, wrong).await;
        assert!(
            matches!(dropped, Err(StoreError::NoSuchEntry(_))),
            "{dropped:?}"
        );
    }
    let onto_table = store.rename_entry(&v, &t, EntryKind::View).await;
    assert!(
        matches!(onto_table, Err(StoreError::NameTaken(_))),
        "{onto_table:?}"
    );
    let wrong_kind = store.rename_entry(&t, &v, EntryKind::View).await;
    assert!(
        matches!(wrong_kind, Err(StoreError::NoSuchEntry(_))),
        "{wrong_kind:?}"
    );

    let w = TableIdent::new(n2.clone(), "w".into());
    store.rename_entry(&v, &w, EntryKind::View).await.unwrap();
    assert!(listed(n.clone(), EntryKind::View).await.is_empty());
    assert_eq!(listed(n2.clone(), EntryKind::View).await, vec!["w"]);
    assert!(listed(n2.clone(), EntryKind::Table).await.is_empty());
    let mut rw = rv.clone();
    rw.metadata_location = "/w/n/v/metadata/00001-y.metadata.json".into();
    let moved = swap(&w, Some(&rv.metadata_location), &rw);
    store.swap_pointers(&[moved]).await.unwrap();
    assert_eq!(store.load_entry(&w).await.unwrap(), Some(rw.clone()));
    assert_eq!(
        store.drop_namespace(&n2).await,
        Err(StoreError::NamespaceNotEmpty),
        "a namespace with a view is not empty"
    );
    let r = TableIdent::new(n.clone(), "r".into());
    store
        .register_entry(&r, view("/w/n/r"), false)
        .await
        .unwrap();
    assert_eq!(listed(n.clone(), EntryKind::View).await, vec!["r"]);
    assert_eq!(store.drop_entry(&w, EntryKind::View).await.unwrap(), rw);
    store.drop_namespace(&n2).await.unwrap();
    let again = store.rename_entry(&r, &w, EntryKind::View).await;
    assert!(
        matches!(again, Err(StoreError::NoSuchNamespace(_))),
        "{again:?}"
    );
    let locations = store.entry_locations().await.unwrap();
    assert_eq!(
        locations.len(),
        2,
        "the table's and the view's: {locations:?}"
    );
}

/// A key is claimed once; while it runs a second arrival meets it running; its kept answer
/// is met by every later arrival; a released key is claimed again; pruning removes the
/// keys older than its bound and keeps the others.
pub async fn idempotency_keys_are_claimed_once(store: &dyn CatalogStore) {
    use super::idempotency::{KeptAnswer, KeyRecord, KeyState};
    let (key, other) = (Uuid::new_v4(), Uuid::new_v4());
    let claimed = store.claim_key(key, "f", 1_000).await.unwrap();
    assert_eq!(claimed, KeyState::Claimed);
    let running = KeyState::Running {
        fingerprint: "f".into(),
    };
    assert_eq!(store.claim_key(key, "g", 1_001).await.unwrap(), running);
    let answer = KeptAnswer {
        status: 409,
        headers: vec![("content-type".into(), "application/json".into())],
        body: r#"{"error":{}}"#.into(),
        metadata_location: None,
    };
    let kept = KeyRecord {
        fingerprint: "f".into(),
        at_ms: 1_002,
        answer: Some(answer.clone()),
    };
    store.keep_answer(key, &kept).await.unwrap();
    let finished = KeyState::Finished {
        fingerprint: "f".into(),
        answer,
    };
    assert_eq!(store.claim_key(key, "f", 1_003).await.unwrap(), finished);

    assert_eq!(
        store.claim_key(other, "h", 5_000).await.unwrap(),
        KeyState::Claimed
    );
    store.release_key(other).await.unwrap();
    assert_eq!(
        store.claim_key(other, "h", 5_001).await.unwrap(),
        KeyState::Claimed
    );

    assert_eq!(
        store.prune_keys(1_003).await.unwrap(),
        1,
        "the older key goes"
    );
    assert_eq!(
        store.claim_key(key, "f", 6_000).await.unwrap(),
        KeyState::Claimed
    );
    let running_other = KeyState::Running {
        fingerprint: "h".into(),
    };
    assert_eq!(
        store.claim_key(other, "h", 6_001).await.unwrap(),
        running_other
    );
}

/// Runs every rule of the contract against fresh stores made by `open`.
pub async fn run_contract<S: CatalogStore, F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    namespaces_nest_and_drop_only_when_empty(&open().await).await;
    pointer_swaps_are_compare_and_swap_and_all_or_nothing(&open().await).await;
    rename_register_and_drop(&open().await).await;
    tables_and_views_share_names(&open().await).await;
    idempotency_keys_are_claimed_once(&open().await).await;
}
