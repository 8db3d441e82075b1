//! A pointer move on ZooKeeper: every swap of a commit in one `multi`, each a `setData`
//! on the version expected (or a create), so the lock serializes and the version proves.
//! The version of a pointer read under the commit's lock is remembered
//! (`pointer_versions.rs`), so the move needs no read of its own; it is forgotten once the
//! move is done. Drops and renames take the table's lock too, so no pointer znode is
//! deleted and made again while a commit holds it.

use zookeeper_client::Error as ZkError;

use super::{multi_error, read_error, to_json, write_error, ZooKeeperStore, PERSISTENT};
use crate::store::{EntryKind, PointerSwap, StoreError};

impl ZooKeeperStore {
    /// [`CatalogStore::swap_pointers`](crate::store::CatalogStore::swap_pointers).
    pub(super) async fn swap(&self, swaps: &[PointerSwap]) -> Result<(), StoreError> {
        for swap in swaps {
            if swap.expected.is_none() && swap.new.kind == EntryKind::View {
                self.ensure_views_dir(&swap.ident.namespace).await?;
            }
        }
        let client = self.client().await?;
        let mut multi = client.new_multi_writer();
        // The swap each operation of the multi belongs to.
        let mut owner = Vec::new();
        for (i, swap) in swaps.iter().enumerate() {
            let path = self.table_path(&swap.ident);
            let data = to_json(&swap.new);
            // The version read under this commit's lock, for the location expected.
            let seen = (swap.expected.as_ref()).and_then(|e| self.versions.version_at(&path, e));
            let current = match (seen, &swap.expected) {
                (Some(version), Some(expected)) => Some((expected.clone(), version)),
                _ => (self.get_record(&swap.ident).await?)
                    .map(|(record, version)| (record.metadata_location, version)),
            };
            match (current, &swap.expected) {
                (None, None) => {
                    if swap.new.kind == EntryKind::View {
                        let marker = self.view_marker(&swap.ident);
                        multi
                            .add_create(&marker, b"", &PERSISTENT)
                            .map_err(read_error)?;
                        owner.push(i);
                    }
                    multi.add_create(&path, &data, &PERSISTENT)
                }
                (Some((location, version)), Some(expected)) if &location == expected => {
                    multi.add_set_data(&path, &data, Some(version))
                }
                (Some(_), None) => return Err(StoreError::NameTaken(swap.ident.to_string())),
                (found, expected) => {
                    return Err(StoreError::PointerMoved {
                        table: swap.ident.to_string(),
                        expected: expected.clone(),
                        found: found.map(|(location, _)| location),
                    })
                }
            }
            .map_err(read_error)?;
            owner.push(i);
        }
        let committed = multi.commit().await.map_err(multi_error);
        // A version is reused only from the read of the same lock hold (`load_current`).
        for swap in swaps {
            self.versions.forget(&self.table_path(&swap.ident));
        }
        match committed {
            Ok(_) => Ok(()),
            Err((Some(op), e)) => {
                let swap = &swaps[owner[op]];
                let table = swap.ident.to_string();
                Err(match (e, &swap.expected) {
                    (ZkError::NodeExists, _) => StoreError::NameTaken(table),
                    (ZkError::NoNode, None) => {
                        StoreError::NoSuchNamespace(swap.ident.namespace.to_string())
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
}
